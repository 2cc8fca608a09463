using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Pipelines;

/// <summary>A model whose numbers blow up stops with one line naming where, instead of writing a black image.</summary>
public class NonFiniteOutputTests
{
    /// <summary>The tiny SD 1.x with one weight of <paramref name="module"/> set to NaN.</summary>
    static StableDiffusionPipeline Poisoned(Func<StableDiffusionPipeline, nn.Module> module, string parameter)
    {
        var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using (torch.no_grad())
            module(pipe).named_parameters().Single(p => p.name == parameter).parameter.FillWith(double.NaN);
        return pipe;
    }

    [Fact]
    public void Generate_WhenTheUNetOutputsNaN_StopsAtTheFirstStepWithOneLine()
    {
        using var pipe = Poisoned(p => p.UNet, "conv_out.bias");

        var e = Assert.Throws<ImagicException>(() =>
            pipe.Generate("a cat", "", new SamplingOptions { Steps = 5, GuidanceScale = 3 }, seed: 1));

        Assert.StartsWith("Sampling step 1 of 5 (t = ", e.Message);
        Assert.Contains("NaN or infinite value(s)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void DecodeAndEncode_WhenTheVaeOutputsNaN_SayWhichHalf()
    {
        using var decoderless = Poisoned(p => p.Vae!, "decoder.conv_out.bias");
        using var latents = torch.zeros(1, 4, 8, 8);
        var decode = Assert.Throws<ImagicException>(() => decoderless.DecodeLatents(latents));
        int f = decoderless.VaeScaleFactor; // every value of the 3 × 8f × 8f image
        Assert.StartsWith($"The VAE decoder produced {3 * 8 * f * 8 * f} NaN or infinite value(s)", decode.Message);

        using var encoderless = Poisoned(p => p.Vae!, "encoder.conv_out.bias");
        using var image = torch.zeros(1, 3, 16, 16);
        var encode = Assert.Throws<ImagicException>(() => encoderless.EncodeImage(image));
        Assert.StartsWith("The VAE encoder produced", encode.Message);
    }

    [Fact]
    public void DdimInversion_WhenTheUNetOutputsNaN_NamesItsStep()
    {
        using var pipe = Poisoned(p => p.UNet, "conv_out.bias");
        using var z0 = torch.zeros(1, 4, 8, 8);
        using var cond = pipe.EncodePrompt("a cat");

        var e = Assert.Throws<ImagicException>(() => DdimInversion.Invert(pipe, z0, cond, steps: 4));

        Assert.StartsWith("DDIM inversion step 1 of 4 (t = ", e.Message);
    }
}
