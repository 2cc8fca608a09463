using Imagic.Quality;
using Imagic.World;

namespace Imagic.Tests.Quality;

public class EditMetricsTests
{
    static SceneImage Constant(int size, float value)
    {
        var chw = new float[3 * size * size];
        Array.Fill(chw, value);
        return new SceneImage(size, chw);
    }

    [Fact]
    public void IdenticalImages_HavePerfectFidelity()
    {
        var image = SceneRenderer.Render(new SceneSampler(3).Next());

        Assert.Equal(EditMetrics.MaxPsnr, EditMetrics.Psnr(image, image));
        Assert.Equal(1.0, EditMetrics.Ssim(image, image), 12);
        Assert.Equal(0.0, EditMetrics.MeanAbsoluteDifference(image, image));
    }

    [Fact]
    public void Psnr_OfAUniformOffset_Is10Log10OfOneOverMse()
    {
        // MSE 0.01 → 20 dB.
        Assert.Equal(20.0, EditMetrics.Psnr(Constant(16, 0.5f), Constant(16, 0.6f)), 4);
    }

    [Fact]
    public void Ssim_OfFlatImages_IsTheLuminanceTermAlone()
    {
        // Both variances and the covariance are 0, so SSIM = (2·μx·μy + C1) / (μx² + μy² + C1).
        const double c1 = 1e-4;
        double expected = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1);
        Assert.Equal(expected, EditMetrics.Ssim(Constant(16, 0.5f), Constant(16, 0.6f)), 6);
    }

    [Fact]
    public void Ssim_IsSymmetric_AndBelowOneForDifferentImages()
    {
        var sampler = new SceneSampler(5);
        var a = SceneRenderer.Render(sampler.Next());
        var b = SceneRenderer.Render(sampler.Next());

        double ab = EditMetrics.Ssim(a, b);
        Assert.Equal(ab, EditMetrics.Ssim(b, a), 12);
        Assert.InRange(ab, -1, 0.999);
    }

    [Fact]
    public void Ssim_ImageSmallerThanTheWindow_Throws()
    {
        Assert.Throws<ArgumentException>(() => EditMetrics.Ssim(Constant(8, 0), Constant(8, 0)));
    }

    [Fact]
    public void ColourSwappedOutput_FailsPreservationOnlyForColour()
    {
        // Given a shape edit, and an output that gets the shape right but also recolours the object
        var editCase = EditSuite.Shapes().Cases.First(c => c.Category == EditCategory.Shape && c.Source.Secondary is not null);
        var wrongColor = Palette.ColorsOn(editCase.Target.Background).First(c => c != editCase.Target.Primary.Color
            && (editCase.Target.Secondary is null || c != editCase.Target.Secondary.Color));
        var output = SceneRenderer.Render(editCase.Target with { Primary = editCase.Target.Primary with { Color = wrongColor } });

        // When it is scored
        var score = EditMetrics.Measure(editCase, output, editCase.Input(), editCase.GroundTruth());

        // Then the edit counts as done, and colour is the one attribute not preserved
        Assert.True(score.EditSuccess);
        Assert.Equal(["color"], score.Changed);
        Assert.False(score.AllPreserved);
        Assert.False(score.SuccessAndPreserved);
        // primary: colour, size, position, pose, background; second object: five; object count → 11 checks
        Assert.Equal(10.0 / 11.0, score.PreservedFraction, 12);
        Assert.True(score.Psnr < EditMetrics.MaxPsnr);
    }

    [Fact]
    public void SecondObjectRecoloured_IsReportedAsSecondColour()
    {
        var editCase = EditSuite.Shapes().Cases.First(c => c.Category == EditCategory.Position && c.Source.Secondary is not null);
        var second = editCase.Target.Secondary!;
        var other = Palette.ColorsOn(editCase.Target.Background).First(c => c != second.Color && c != editCase.Target.Primary.Color);
        var output = SceneRenderer.Render(editCase.Target with { Secondary = second with { Color = other } });

        var score = EditMetrics.Measure(editCase, output, editCase.Input(), editCase.GroundTruth());

        Assert.True(score.EditSuccess);
        Assert.Equal(["second.color"], score.Changed);
    }

    [Fact]
    public void TwoAttributeEdit_HalfDone_HasEditedFractionOneHalf()
    {
        // (a case whose first edit alone gives a valid scene: "white object" alone is not valid on white)
        var editCase = EditSuite.Shapes().Cases.First(c => c.Category == EditCategory.TwoAttributes && IsValidAlone(c));
        var halfway = editCase.Source.Apply(editCase.Edits[0]);

        var score = EditMetrics.Measure(editCase, SceneRenderer.Render(halfway), editCase.Input(), editCase.GroundTruth());

        Assert.False(score.EditSuccess);
        Assert.Equal(0.5, score.EditedFraction);
        Assert.True(score.AllPreserved);
    }

    static bool IsValidAlone(EditCase c)
    {
        try { c.Source.Apply(c.Edits[0]); return true; }
        catch (ArgumentException) { return false; }
    }

    [Fact]
    public void ExtraObject_WithTheTargetValues_IsNotASuccess()
    {
        // Given a one-object case, and an output that shows the target plus a stray copy elsewhere
        var editCase = EditSuite.Shapes().Cases.First(c => c.Category == EditCategory.Color && c.Source.Secondary is null);
        var target = editCase.Target;
        var stray = Enum.GetValues<GridPosition>()
            .Select(p => target.Primary with { Position = p, Size = Imagic.World.Size.Small })
            .First(o => (target with { Secondary = o }).IsValid);
        var output = SceneRenderer.Render(target with { Secondary = stray });

        // When it is scored
        var score = EditMetrics.Measure(editCase, output, editCase.Input(), editCase.GroundTruth());

        // Then the clutter fails the edit and the object count
        Assert.False(score.EditSuccess);
        Assert.Equal(["object count"], score.Changed);
    }
}
