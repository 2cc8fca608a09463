using Imagic.Evaluation;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Training;
using TorchSharp;

namespace Imagic.Tests.Training;

public class CaptionSensitivityTests
{
    [Fact]
    public void Measure_OnAWorldV2Architecture_ComparesCaptionsOf64PixelScenes()
    {
        // Given model v6's architecture (64 px, world v2) with random weights
        torch.manual_seed(0);
        var v2 = ShapesModelConfigs.V2;
        using var pipe = StableDiffusionPipeline.Create(Path.Combine(TestPaths.TinySd1, "tokenizer"),
            new ClipTextModel(v2.TextEncoder), new UNet2DConditionModel(v2.UNet), new AutoencoderKL(v2.Vae), v2.Scheduler);
        pipe.SetTrainable(false);

        // When the caption sensitivity is measured on a few scenes at two noise levels
        var rows = CaptionSensitivity.Measure(pipe, scenes: 6, seed: 1, timesteps: [300, 800], batchSize: 4);

        // Then each timestep has a finite loss and a rise for every column (random weights barely react to words, but
        // each wrong caption is a different conditioning, so the loss moves)
        Assert.Equal([300, 800], rows.Select(r => r.Timestep));
        Assert.All(rows, r =>
        {
            Assert.True(double.IsFinite(r.Loss) && r.Loss > 0, $"loss {r.Loss}");
            Assert.Equal(CaptionSensitivity.Columns.Order(), r.IncreasePercent.Keys.Order());
            Assert.True(double.IsFinite(r.IncreasePercent["empty"]) && r.IncreasePercent["empty"] != 0);
        });
    }
}
