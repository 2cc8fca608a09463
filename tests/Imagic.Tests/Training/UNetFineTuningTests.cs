using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Training;

public class UNetFineTuningTests
{
    [Fact]
    public void Dispose_AfterAFullFineTuningStep_LeavesNoGradientsOnTheWeights()
    {
        // Given the tiny model's UNet after one full fine-tuning step
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        var unet = pipe.UNet;
        using var g = new Generator(3, torch.CPU);
        var latents = torch.randn(new long[] { 1, 4, 16, 16 }, generator: g);
        var context = torch.randn(new long[] { 1, 77, 32 }, generator: g);
        var settings = new FineTuneSettings(FinetuneMethod.Full, 4, 4, GradientCheckpointing: false);
        var tuning = UNetFineTuning.Begin(unet, settings, 1e-5, g);
        using (var scope = torch.NewDisposeScope())
        {
            DenoisingLoss.Compute(unet, new DdpmScheduler(pipe.SchedulerConfig), latents, context, g).backward();
            tuning.Optimizer.Step();
        }
        Assert.Contains(unet.parameters(), p => p.grad is not null);

        // When the fine-tuning ends
        tuning.Dispose();

        // Then no weight keeps a gradient (a UNet's worth of memory through sampling)
        Assert.All(unet.parameters(), p => Assert.Null(p.grad));
    }
}
