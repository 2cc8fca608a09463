using Imagic.Models;
using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary>
/// Fine-tuning only part of the UNet (Forgedit's decoder-only fine-tuning, or any frozen prefix) runs a backward in which
/// GroupNorms after a transformer block need a weight gradient but no input gradient.
/// </summary>
public class PartialFineTuneTests
{
    [Fact]
    public void Backward_WithOnlyTheDecoderTrainable_GivesDecoderGradientsAndNoneElsewhere()
    {
        // Given the bundled UNet with every parameter frozen except the decoder half
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        var unet = pipe.UNet;
        var decoder = unet.ParametersOf(UNetHalf.Decoder).Select(p => p.Name).ToHashSet();
        foreach (var (name, p) in unet.named_parameters()) p.requires_grad_(decoder.Contains(name));
        using var scope = torch.NewDisposeScope();
        using var generator = new Generator(3);
        int size = unet.Config.SampleSize ?? 16;
        var latents = torch.randn(new long[] { 2, unet.Config.InChannels, size, size }, generator: generator);
        var context = torch.cat(new[] { pipe.EncodePrompt("a red circle"), pipe.EncodePrompt("") }).detach();

        // When the denoising output's loss is back-propagated
        var loss = unet.Forward(latents, torch.tensor(new long[] { 500, 500 }), context).Squared().mean();
        loss.backward();

        // Then every decoder weight has a non-zero gradient and no other weight has one
        // (libtorch 2.10's channels-last GroupNorm backward crashed the process here when a transformer's output kept
        // channels-last strides)
        foreach (var (name, p) in unet.named_parameters())
        {
            if (decoder.Contains(name))
                Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} has no gradient");
            else
                Assert.Null(p.grad);
        }
        foreach (var (_, p) in unet.named_parameters()) p.requires_grad_(true);
    }
}
