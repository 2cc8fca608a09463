using System.Text.RegularExpressions;
using Imagic.World;

namespace Imagic.Tests.World;

public class CaptionerTests
{
    static IReadOnlyList<Scene> Scenes(int count) => new SceneSampler(31).Next(count);

    [Fact]
    public void Canonical_OneObject_ReadsAsDocumented()
    {
        var scene = new Scene(Background.Grey, new SceneObject(Shape.Circle, NamedColor.Red, Size.Large, GridPosition.TopLeft, Pose.Tall));

        Assert.Equal("a large tall red circle in the top left on a grey background", Captioner.Canonical(scene));
    }

    [Fact]
    public void Canonical_TwoObjects_NamesPrimaryFirst()
    {
        var scene = new Scene(Background.Black,
            new SceneObject(Shape.Star, NamedColor.Orange, Size.Small, GridPosition.Left, Pose.Regular),
            new SceneObject(Shape.Ring, NamedColor.White, Size.Large, GridPosition.Bottom, Pose.Wide));

        Assert.Equal(
            "a small regular orange star on the left and a large wide white ring at the bottom, on a black background",
            Captioner.Canonical(scene));
    }

    [Fact]
    public void Canonical_NamesEveryAttributeWithItsCanonicalWord()
    {
        foreach (var scene in Scenes(300))
        {
            string caption = Captioner.Canonical(scene);
            var p = scene.Primary;
            foreach (string word in new[]
            {
                CaptionVocabulary.Words(p.Color)[0], CaptionVocabulary.Words(p.Shape)[0], CaptionVocabulary.Words(p.Size)[0],
                CaptionVocabulary.Words(p.Pose)[0], CaptionVocabulary.Phrases(p.Position)[0], CaptionVocabulary.Words(scene.Background)[0],
            })
                Assert.True(Mentions(caption, [word]), $"'{caption}' lacks '{word}'");
        }
    }

    [Fact]
    public void Canonical_DifferentScenes_GetDifferentCaptions()
    {
        var scenes = Scenes(500).Distinct().ToArray();

        Assert.Equal(scenes.Length, scenes.Select(Captioner.Canonical).Distinct().Count());
    }

    [Fact]
    public void Caption_AlwaysNamesPrimaryColourShapeAndPosition()
    {
        var rng = new WorldRandom(1);
        foreach (var scene in Scenes(500))
        {
            string caption = Captioner.Caption(scene, rng);
            var p = scene.Primary;

            Assert.True(Mentions(caption, CaptionVocabulary.Words(p.Color)), caption);
            Assert.True(Mentions(caption, CaptionVocabulary.Words(p.Shape)), caption);
            Assert.True(Mentions(caption, [.. CaptionVocabulary.Phrases(p.Position), .. CaptionVocabulary.Labels(p.Position)]), caption);
        }
    }

    [Fact]
    public void Caption_NamesPrimarySizeAndPoseUnlessTheyAreTheDefault()
    {
        var rng = new WorldRandom(2);
        foreach (var scene in Scenes(500).Where(s => s.Secondary is null))
        {
            string caption = Captioner.Caption(scene, rng);
            var p = scene.Primary;

            if (p.Size != Size.Medium)
                Assert.True(Mentions(caption, CaptionVocabulary.Words(p.Size)), caption);
            if (p.Pose != Pose.Regular)
                Assert.True(Mentions(caption, [.. CaptionVocabulary.Words(p.Pose), .. CaptionVocabulary.PhrasesAfterNoun(p.Pose)]), caption);
        }
    }

    [Fact]
    public void Caption_MentionsTheBackgroundAboutHalfTheTime()
    {
        var rng = new WorldRandom(3);
        var scenes = Scenes(1000);

        int mentioned = scenes.Count(s => Captioner.Caption(s, rng).Contains("background"));

        Assert.InRange(mentioned, 430, 570);
    }

    [Fact]
    public void Caption_SameSeed_GivesSameCaptions()
    {
        var scenes = Scenes(100);

        var first = scenes.Select(s => Captioner.Caption(s, new WorldRandom(5))).ToArray();
        var second = scenes.Select(s => Captioner.Caption(s, new WorldRandom(5))).ToArray();

        Assert.Equal(first, second);
    }

    [Fact]
    public void Caption_OneScene_IsDescribedInManyWays()
    {
        var scene = Scenes(1)[0];
        var rng = new WorldRandom(6);

        var captions = Enumerable.Range(0, 200).Select(_ => Captioner.Caption(scene, rng)).Distinct().Count();

        Assert.True(captions > 100, $"only {captions} distinct captions");
    }

    [Fact]
    public void Caption_UsesAnBeforeVowels()
    {
        var rng = new WorldRandom(7);
        foreach (var scene in Scenes(500))
        {
            string caption = Captioner.Caption(scene, rng);

            Assert.DoesNotMatch(@"\ba [aeiou]", caption);
            Assert.DoesNotMatch(@"\ban [^aeiou]", caption);
        }
    }

    [Fact]
    public void Caption_StaysWellInsideClipsTokenWindow()
    {
        var rng = new WorldRandom(8);
        foreach (var scene in Scenes(2000))
        {
            string caption = Captioner.Caption(scene, rng);
            // Counts words and marks; most words here are one CLIP BPE token, and the margin to 75
            // covers the few that split (unstretched, illustration).
            int tokens = Regex.Matches(caption, @"[a-z]+|[^a-z\s]").Count;

            Assert.True(tokens <= 50, $"{tokens} tokens: {caption}");
        }
    }

    static bool Mentions(string caption, IEnumerable<string> phrases) =>
        phrases.Any(p => Regex.IsMatch(caption, $@"\b{Regex.Escape(p)}\b"));
}

public class PartialCaptionTests
{
    /// <summary>
    /// Partial captions name the primary object's colour and shape, then its background, its position or nothing
    /// else, a share each; never the second object.
    /// </summary>
    [Fact]
    public void Partial_NamesTheObjectAloneOrWithBackgroundOrPosition_NeverTheSecondObject()
    {
        var rng = new WorldRandom(41);
        int alone = 0, background = 0, position = 0;
        foreach (var scene in new SceneSampler(40, 1.0, WorldVersion.V2).Next(300))
        {
            string caption = Captioner.Partial(scene, rng);
            var p = scene.Primary;
            Assert.Contains(CaptionVocabulary.Words(p.Color), w => caption.Contains(w));
            Assert.Contains(CaptionVocabulary.Words(p.Shape), w => caption.Contains(w));
            Assert.DoesNotContain(" and ", caption);
            bool hasBackground = caption.Contains("background");
            bool hasPosition = CaptionVocabulary.Phrases(p.Position).Any(caption.Contains);
            Assert.False(hasBackground && hasPosition, caption);
            (alone, background, position) = (alone + (hasBackground || hasPosition ? 0 : 1), background + (hasBackground ? 1 : 0),
                position + (hasPosition ? 1 : 0));
        }
        Assert.All(new[] { alone, background, position }, n => Assert.InRange(n, 70, 130));
    }
}
