using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Pipelines;
using Imagic.World;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Editing;

/// <summary>The edit region (DiffEdit's estimate from e_tgt and e_opt) and the composite that keeps the input outside it.</summary>
public class EditMaskTests
{
    [Fact]
    public void Composite_OutsideTheMask_IsTheInputBitForBit_AndFarInsideItIsTheEdit()
    {
        // Given an input, two edited images and a mask of one latent pixel block in the top-left corner (4x4 latents, 16 px)
        using var scope = torch.NewDisposeScope();
        using var generator = new Generator(1);
        var input = torch.rand(new long[] { 1, 3, 16, 16 }, generator: generator).Times(2).Minus(1);
        var edited = torch.rand(new long[] { 2, 3, 16, 16 }, generator: generator).Times(2).Minus(1);
        var mask = torch.zeros(1, 1, 4, 4);
        mask[0, 0, 0, 0] = torch.tensor(1f);

        // When they are composited
        var output = EditMask.Composite(edited, input, mask);

        // Then the far corner (beyond the widened, blurred mask) is the input exactly, for both images,
        // and the masked corner is the edit
        var far = output[.., .., 12.., 12..];
        Assert.True(far.equal(input[.., .., 12.., 12..].expand(2, -1, -1, -1)).all().item<bool>());
        Assert.True(output[.., .., ..2, ..2].allclose(edited[.., .., ..2, ..2]));
        Assert.Equal(new long[] { 2, 3, 16, 16 }, output.shape);
        // and the caller's input and mask survive it, as a sampler that composites every η with one cached mask needs
        Assert.True(EditMask.Composite(edited, input, mask).equal(output).all().item<bool>());
    }

    [Fact]
    public void Weights_AreOneOnTheMask_ZeroFarFromIt_AndAreTheCompositesBlend()
    {
        // Given a mask of one latent pixel in the top-left corner of 4x4 latents, and two images of 16 px
        using var scope = torch.NewDisposeScope();
        using var generator = new Generator(2);
        var mask = torch.zeros(1, 1, 4, 4);
        mask[0, 0, 0, 0] = torch.tensor(1f);
        var input = torch.rand(new long[] { 1, 3, 16, 16 }, generator: generator).Times(2).Minus(1);
        var edited = torch.rand(new long[] { 1, 3, 16, 16 }, generator: generator).Times(2).Minus(1);

        // When the composite's weights are computed at image size (as the Studio shows the region)
        var weights = EditMask.Weights(mask, 16, 16);

        // Then they lie in [0, 1], are 1 on the masked pixel's block, 0 beyond the widened border, and the composite is their blend
        Assert.Equal(new long[] { 1, 1, 16, 16 }, weights.shape);
        using var zero = 0.ToScalar();
        using var one = 1.ToScalar();
        Assert.True(weights.ge(zero).all().item<bool>() && weights.le(one).all().item<bool>());
        Assert.True(weights[.., .., ..2, ..2].eq(one).all().item<bool>());
        Assert.True(weights[.., .., 12.., ..].eq(zero).all().item<bool>() && weights[.., .., .., 12..].eq(zero).all().item<bool>());
        Assert.True(EditMask.Composite(edited, input, mask).equal((weights * edited).Plus(weights.SubtractedFrom(1) * input)).all().item<bool>());
    }

    [Fact]
    public void Estimate_WhenTheEmbeddingsAgree_IsEmpty()
    {
        // Given the tiny model and one embedding as both target and optimised embedding
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var scope = torch.NewDisposeScope();
        var z0 = torch.randn(new long[] { 1, 4, 8, 8 }, generator: new Generator(2));
        var e = pipe.EncodePrompt("a photo of a dog");

        // When the edit region is estimated
        var mask = EditMask.Estimate(pipe, z0, e, e, seed: 3);

        // Then nothing is to be edited
        Assert.Equal(new long[] { 1, 1, 8, 8 }, mask.shape);
        Assert.Equal(0f, mask.sum().item<float>());
    }

    [Fact]
    public void Estimate_ForAColourChangeOfOneObject_LiesOnThatObjectMoreThanOnTheBackground()
    {
        // Given the bundled model and a rendered scene: a large red circle at the top left on grey
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        using var scope = torch.NewDisposeScope();
        var circle = new SceneObject(Shape.Circle, NamedColor.Red, Imagic.World.Size.Large, GridPosition.TopLeft, Pose.Tall);
        var scene = new Scene(Background.Grey, circle);
        var image = SceneRenderer.Render(scene).ToTensor().unsqueeze(0).Times(2).Minus(1);
        var z0 = pipe.EncodeImage(image);

        // When the region is estimated from the caption toward the same caption with the circle blue
        var eOpt = pipe.EncodePrompt(Captioner.Canonical(scene));
        var eTgt = pipe.EncodePrompt(Captioner.Canonical(scene with { Primary = circle with { Color = NamedColor.Blue } }));
        var mask = EditMask.Estimate(pipe, z0, eTgt, eOpt, seed: 3);

        // Then the mask covers more of the circle than of the rest of the image
        int h = (int)mask.shape[2];
        using var half = 0.5f.ToScalar();
        var coverage = torch.tensor(SceneRenderer.Coverage(circle, h), new long[] { 1, 1, h, h }).gt(half).to(ScalarType.Float32);
        double inside = (mask * coverage).sum().item<float>() / coverage.sum().item<float>();
        double outside = (mask * coverage.SubtractedFrom(1)).sum().item<float>() / coverage.SubtractedFrom(1).sum().item<float>();
        Assert.True(inside > outside + 0.3, $"mask covers {inside:P0} of the circle and {outside:P0} of the rest");
    }
}
