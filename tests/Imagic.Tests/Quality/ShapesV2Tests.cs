using Imagic.Quality;
using Imagic.World;

namespace Imagic.Tests.Quality;

public class ShapesV2SuiteTests
{
    /// <summary>
    /// Pins shapes-v2. If this fails, a change to world v2, its captions or the generator altered the cases: results
    /// from before no longer compare, so bump <see cref="EditSuite.ShapesV2Version"/> and update this value.
    /// </summary>
    [Fact]
    public void ShapesV2_Fingerprint_IsPinnedForThisVersion()
    {
        Assert.Equal("shapes-v2", EditSuite.ShapesV2Version);
        Assert.Equal(PinnedFingerprint, EditSuite.ShapesV2().Fingerprint);
    }

    const string PinnedFingerprint = "e6be1159d2eb88ad";

    [Fact]
    public void Named_ShapesV2_IsTheV2SuiteAndShapesStaysV1()
    {
        Assert.Equal(EditSuite.ShapesV2().Fingerprint, EditSuite.Named("shapes-v2").Fingerprint);
        Assert.Equal(WorldVersion.V2, EditSuite.Named("shapes-v2").World);
        Assert.Equal(WorldVersion.V1, EditSuite.Named("shapes").World);
        Assert.Equal("shapes-v1", EditSuite.Named("shapes").Version);
    }

    [Fact]
    public void ShapesV2_KeepsTheSevenCategories_Balanced()
    {
        var counts = EditSuite.ShapesV2().Cases.GroupBy(c => c.Category).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal(Enum.GetValues<EditCategory>().Order(), counts.Keys.Order());
        Assert.Equal([EditSuite.DefaultCasesPerCategory], counts.Values.Distinct());
    }

    [Fact]
    public void ShapesV2_TargetTexts_NameTheEditedObjectOnly()
    {
        foreach (var c in EditSuite.ShapesV2().Cases)
        {
            var o = c.Target.Primary;
            Assert.StartsWith("a", c.TargetText);
            Assert.Contains($"{CaptionVocabulary.Words(o.Color)[0]} {CaptionVocabulary.Words(o.Shape)[0]}", c.TargetText);
            Assert.DoesNotContain(" and ", c.TargetText);
            Assert.Equal(c.EditedAttributes.Contains(SceneAttribute.Background), c.TargetText.Contains("background"));
            Assert.Equal(c.EditedAttributes.Contains(SceneAttribute.Position), c.TargetText.Contains(CaptionVocabulary.Phrases(o.Position)[0]));
        }
    }

    [Fact]
    public void ShapesV2_TargetText_FollowsTEdBenchStyle()
    {
        var scene = new Scene(Background.Grey, new SceneObject(Shape.Square, NamedColor.Blue, Size.Large, GridPosition.TopLeft, Pose.Tall, ObjectDetail.None),
            null, new SceneDetail(0, 0, 1, 0.03, null));

        Assert.Equal("a blue square", Captioner.EditTarget(scene, [SceneAttribute.Color]));
        Assert.Equal("a tall blue square", Captioner.EditTarget(scene, [SceneAttribute.Pose]));
        Assert.Equal("a blue square in the top left", Captioner.EditTarget(scene, [SceneAttribute.Position]));
        Assert.Equal("a large blue square on a grey background", Captioner.EditTarget(scene, [SceneAttribute.Size, SceneAttribute.Background]));
    }

    [Fact]
    public void ShapesV2_GroundTruthScoresAsAPerfectEdit_AndTheInputAsNoEdit()
    {
        foreach (var c in EditSuite.ShapesV2().Take(28).Cases)
        {
            var input = c.Input(EditSuite.V2Resolution);
            var truth = c.GroundTruth(EditSuite.V2Resolution);
            var perfect = EditMetrics.Measure(c, truth, input, truth);
            var unchanged = EditMetrics.Measure(c, input, input, truth);

            Assert.True(perfect.SuccessAndPreserved, $"{c.Describe()}: changed {string.Join(", ", perfect.Changed)}");
            Assert.False(unchanged.EditSuccess, c.Describe());
            Assert.True(unchanged.AllPreserved, c.Describe());
            if (c.EditedAttributes.Contains(SceneAttribute.Background))
                continue; // the ground truth's unedited region is the kept objects' interiors, identical to the input's
            Assert.Equal(EditMetrics.MaxPsnr, perfect.UneditedPsnr);
            Assert.Equal(1.0, perfect.UneditedSsim!.Value, 12);
        }
    }
}

public class UneditedRegionTests
{
    const int Px = 64;

    // A hand-built v2 scene: a red square in the top left and a blue circle at the bottom right, flat grey detail.
    static readonly Scene Source = new(Background.Grey,
        new SceneObject(Shape.Square, NamedColor.Red, Size.Medium, GridPosition.TopLeft, Pose.Regular, ObjectDetail.None),
        new SceneObject(Shape.Circle, NamedColor.Blue, Size.Medium, GridPosition.BottomRight, Pose.Regular, ObjectDetail.None),
        new SceneDetail(0, 0, 1, 0, null));

    static EditCase Case(params SceneEdit[] edits) =>
        new("000-test", edits.Length > 1 ? EditCategory.TwoAttributes : EditCategory.Color, Source, edits, 1);

    [Fact]
    public void ObjectEdit_Region_IsEverythingOutsideTheEditedObjectBeforeAndAfter()
    {
        var editCase = Case(new PositionEdit(GridPosition.Center));

        var region = EditMetrics.UneditedRegion(editCase, Px);

        var before = SceneRenderer.Coverage(Source.Primary, Px);
        var after = SceneRenderer.Coverage(editCase.Target.Primary, Px);
        for (int i = 0; i < region.Length; i++)
            Assert.Equal(before[i] == 0 && after[i] == 0, region[i]);
        Assert.False(region[(int)(Px / 6.0) * Px + (int)(Px / 6.0)]); // old centre
        Assert.False(region[Px / 2 * Px + Px / 2]);                     // new centre
        Assert.True(region[(int)(5 * Px / 6.0) * Px + (int)(5 * Px / 6.0)]); // the second object's centre is kept
    }

    [Fact]
    public void BackgroundEdit_Region_IsTheInteriorOfTheKeptObjects()
    {
        var editCase = Case(new BackgroundEdit(Background.White));

        var region = EditMetrics.UneditedRegion(editCase, Px);

        var kept = Source.Objects.Select(o => SceneRenderer.Coverage(o, Px)).ToArray();
        for (int i = 0; i < region.Length; i++)
            Assert.Equal(kept.Any(k => k[i] == 1), region[i]);
        Assert.False(region[0]);
    }

    [Fact]
    public void UneditedMetrics_SeeOnlyChangesOutsideTheEditedObject()
    {
        var editCase = Case(new ColorEdit(NamedColor.Green));
        var input = editCase.Input(Px);
        var truth = editCase.GroundTruth(Px);
        var region = EditMetrics.UneditedRegion(editCase, Px);

        // When the output is the ground truth, the region is untouched; when 0.1 is added outside, MSE is 0.01 → 20 dB.
        var shifted = new SceneImage(Px, (float[])truth.Chw.Clone());
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < Px * Px; i++)
                if (region[i])
                    shifted.Chw[c * Px * Px + i] += 0.1f;

        Assert.Equal(EditMetrics.MaxPsnr, EditMetrics.Psnr(truth, input, region));
        Assert.Equal(1.0, EditMetrics.Ssim(truth, input, region)!.Value, 12);
        Assert.Equal(20.0, EditMetrics.Psnr(shifted, input, region)!.Value, 3);
        Assert.True(EditMetrics.Ssim(shifted, input, region) < 1);
        Assert.Null(EditMetrics.Psnr(truth, input, new bool[Px * Px]));
    }

    [Fact]
    public void DetailError_MeasuresHowTheKeptObjectDrifted()
    {
        var editCase = Case(new ColorEdit(NamedColor.Green));
        var truth = editCase.Target;
        var drifted = truth with
        {
            Secondary = truth.Secondary! with { Detail = ObjectDetail.None with { OffsetX = 2.0 / Px, Scale = 1.05, ShadeG = 0.04f } },
        };

        var score = EditMetrics.Measure(editCase, SceneRenderer.Render(drifted, Px), editCase.Input(Px), editCase.GroundTruth(Px));
        var exact = EditMetrics.Measure(editCase, editCase.GroundTruth(Px), editCase.Input(Px), editCase.GroundTruth(Px));

        Assert.Equal(new DetailError(0, 0, 0, 1), exact.Detail);
        Assert.Equal(1, score.Detail!.Objects);
        Assert.InRange(score.Detail.Position, 1.7, 2.3);
        Assert.InRange(score.Detail.Size, 0.035, 0.065);
        Assert.InRange(score.Detail.Shade, 0.03, 0.05);
    }
}
