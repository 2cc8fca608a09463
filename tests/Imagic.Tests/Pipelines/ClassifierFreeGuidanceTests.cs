using Imagic.Editing;
using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Pipelines;

public class ClassifierFreeGuidanceTests
{
    static Tensor Randn(long seed, params long[] shape)
    {
        using var generator = new Generator((ulong)seed, torch.CPU);
        return torch.randn(shape, generator: generator);
    }

    [Fact]
    public void Combine_WithoutRescale_IsUncondPlusScaleTimesDifference()
    {
        var u = Randn(1, 2, 4, 3, 3);
        var c = Randn(2, 2, 4, 3, 3);

        var guided = ClassifierFreeGuidance.Combine(u, c, 7.5);

        Reference.AssertClose(u.Plus((c - u).Times(7.5)), guided, 1e-6, "plain guidance");
    }

    [Fact]
    public void Combine_FullRescale_GivesEachSampleTheConditionalStdAndKeepsTheDirection()
    {
        // Two samples whose conditional outputs differ in scale by 10×, so a batch-wide std would fail
        var u = Randn(3, 2, 4, 3, 3);
        var c = Randn(4, 2, 4, 3, 3) * torch.tensor(new float[] { 1, 10 }).reshape(2, 1, 1, 1);

        var plain = ClassifierFreeGuidance.Combine(u, c, 5);
        var rescaled = ClassifierFreeGuidance.Combine(u, c, 5, rescale: 1);

        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(c[i].std().item<float>(), rescaled[i].std().item<float>(), 1e-4 * c[i].std().item<float>());
            var cosine = (plain[i] * rescaled[i]).sum() / (plain[i].norm() * rescaled[i].norm());
            Assert.Equal(1.0, cosine.item<float>(), 1e-5);
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.7)]
    public void Combine_PerSampleScales_GivesEachSampleItsOwnScale_AndOneScaleForAllIsTheScalarCombineExactly(double rescale)
    {
        var u = Randn(5, 3, 4, 3, 3);
        var c = Randn(6, 3, 4, 3, 3);

        var mixed = ClassifierFreeGuidance.Combine(u, c, [1.0, 2.5, 7.5], rescale);
        var same = ClassifierFreeGuidance.Combine(u, c, [4.0, 4.0, 4.0], rescale);

        var scales = new[] { 1.0, 2.5, 7.5 };
        for (int i = 0; i < 3; i++)
        {
            using var alone = ClassifierFreeGuidance.Combine(u[i].unsqueeze(0), c[i].unsqueeze(0), scales[i], rescale);
            Reference.AssertClose(alone, mixed[i].unsqueeze(0), 1e-5, $"sample {i} at scale {scales[i]}");
        }
        Assert.True(Tensors.Identical(ClassifierFreeGuidance.Combine(u, c, 4.0, rescale), same));
        Assert.Throws<ArgumentException>(() => ClassifierFreeGuidance.Combine(u, c, [1.0, 2.0], rescale));
    }

    [Fact]
    public void Combine_PartialRescale_MixesRescaledAndPlainByPhi()
    {
        // Hand-computed: with u = 0 the guided output is 5c, whose std is 5·std(c), so the rescaled one is c;
        // φ = 0.7 gives 0.7·c + 0.3·5c = 2.2c
        var c = torch.tensor(new float[] { 1, -1, 2, -2, 0.5f, -0.5f }).reshape(1, 1, 2, 3);
        var u = torch.zeros_like(c);

        var guided = ClassifierFreeGuidance.Combine(u, c, 5, rescale: 0.7);

        Reference.AssertClose(c.Times(2.2), guided, 1e-5, "φ = 0.7");
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    public void Combine_RescaleOutsideZeroToOne_ThrowsAClearError(double rescale)
    {
        var x = torch.ones(1, 4, 2, 2);
        var e = Assert.Throws<ImagicException>(() => ClassifierFreeGuidance.Combine(x, x, 5, rescale));
        Assert.Contains("[0, 1]", e.Message);
    }

    [Fact]
    public void ImagicOptions_ReadGuidanceRescaleFromModelDefaults_AndRejectOutOfRange()
    {
        var options = ImagicOptions.FromJson("{\"guidance_rescale\": 0.7}");
        Assert.Equal(0.7, options.GuidanceRescale);
        Assert.Equal(0.7, options.Sampling.GuidanceRescale);
        Assert.Equal(0.0, new ImagicOptions().GuidanceRescale);
        Assert.Throws<ImagicException>(() => (options with { GuidanceRescale = 2 }).Validate());
    }
}
