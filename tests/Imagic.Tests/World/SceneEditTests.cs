using Imagic.World;

namespace Imagic.Tests.World;

public class SceneEditTests
{
    static IReadOnlyList<Scene> Scenes(int count) => new SceneSampler(21).Next(count);

    [Fact]
    public void EverySingleEdit_ChangesExactlyItsAttribute()
    {
        foreach (var scene in Scenes(100))
            foreach (var attribute in Enum.GetValues<SceneAttribute>())
                foreach (var edit in EditSampler.ValidEdits(scene, attribute))
                {
                    var edited = scene.Apply(edit);

                    Assert.Equal(attribute, edit.Attribute);
                    Assert.Equal(scene.Secondary, edited.Secondary);
                    Assert.Equal(attribute == SceneAttribute.Background, edited.Background != scene.Background);
                    Assert.Equal(attribute == SceneAttribute.Color, edited.Primary.Color != scene.Primary.Color);
                    Assert.Equal(attribute == SceneAttribute.Shape, edited.Primary.Shape != scene.Primary.Shape);
                    Assert.Equal(attribute == SceneAttribute.Size, edited.Primary.Size != scene.Primary.Size);
                    Assert.Equal(attribute == SceneAttribute.Position, edited.Primary.Position != scene.Primary.Position);
                    Assert.Equal(attribute == SceneAttribute.Pose, edited.Primary.Pose != scene.Primary.Pose);
                }
    }

    [Fact]
    public void EverySingleEdit_ChangesTheRender()
    {
        foreach (var scene in Scenes(30))
        {
            var before = SceneRenderer.Render(scene).Chw;
            foreach (var attribute in Enum.GetValues<SceneAttribute>())
                foreach (var edit in EditSampler.ValidEdits(scene, attribute))
                    Assert.NotEqual(before, SceneRenderer.Render(scene.Apply(edit)).Chw);
        }
    }

    [Fact]
    public void EveryAttribute_HasAValidEditInMostScenes()
    {
        var scenes = Scenes(300);

        foreach (var attribute in Enum.GetValues<SceneAttribute>())
            Assert.True(scenes.Count(s => EditSampler.ValidEdits(s, attribute).Count > 0) >= 290, $"{attribute}");
    }

    [Fact]
    public void SampledEdits_SetNewValuesAndKeepScenesValid()
    {
        var sampler = new EditSampler(3);

        foreach (var scene in Scenes(300))
            foreach (int count in new[] { 1, 2 })
            {
                var edits = sampler.Next(scene, count);
                var edited = scene.Apply(edits);

                Assert.Equal(count, edits.Select(e => e.Attribute).Distinct().Count());
                Assert.All(edits, e => Assert.False(e.IsNoOp(scene)));
                Assert.Empty(edited.Problems()); // no overlap, no invisible colour, nothing off the canvas
                Assert.Equal(count, Differences(scene, edited));
            }
    }

    [Fact]
    public void SampledEdits_CoverEveryAttribute()
    {
        var sampler = new EditSampler(4);

        var attributes = Scenes(300).Select(s => sampler.Next(s).Attribute).Distinct().ToArray();

        Assert.Equal(Enum.GetValues<SceneAttribute>().Length, attributes.Length);
    }

    [Fact]
    public void EditSampler_SameSeed_GivesSameEdits()
    {
        var scenes = Scenes(50);

        var samplerA = new EditSampler(9);
        var samplerB = new EditSampler(9);

        var first = scenes.Select(s => samplerA.Next(s)).ToArray();
        var second = scenes.Select(s => samplerB.Next(s)).ToArray();

        Assert.Equal(first, second);
    }

    [Fact]
    public void EditPrompt_TargetText_IsTheCanonicalCaptionOfTheEditedScene()
    {
        var scene = new Scene(Background.Grey, new SceneObject(Shape.Circle, NamedColor.Red, Size.Large, GridPosition.TopLeft, Pose.Regular));

        var prompt = new EditPrompt(scene, [new PoseEdit(Pose.Tall), new ColorEdit(NamedColor.Blue)]);

        Assert.Equal("a large regular red circle in the top left on a grey background", prompt.SourceText);
        Assert.Equal("a large tall blue circle in the top left on a grey background", prompt.TargetText);
        Assert.Equal([SceneAttribute.Pose, SceneAttribute.Color], prompt.EditedAttributes);
    }

    [Fact]
    public void EditPrompt_SameAttributeTwice_Throws()
    {
        var scene = Scenes(1)[0];

        Assert.Throws<ArgumentException>(() => new EditPrompt(scene, [new SizeEdit(Size.Small), new SizeEdit(Size.Large)]));
    }

    static int Differences(Scene a, Scene b) =>
        (a.Background != b.Background ? 1 : 0)
        + (a.Primary.Color != b.Primary.Color ? 1 : 0)
        + (a.Primary.Shape != b.Primary.Shape ? 1 : 0)
        + (a.Primary.Size != b.Primary.Size ? 1 : 0)
        + (a.Primary.Position != b.Primary.Position ? 1 : 0)
        + (a.Primary.Pose != b.Primary.Pose ? 1 : 0)
        + (a.Secondary != b.Secondary ? 100 : 0);
}
