using Imagic.IO;
using Imagic.Models;
using Imagic.Schedulers;

namespace Imagic.Tests.IO;

/// <summary>
/// Configuration inference on the key names and shapes of the real SD 1.5 and SD 2.1 single files, built in the test
/// as sparse files (headers only), so no multi-GB weights are needed.
/// </summary>
public class LdmConfigInferenceTests
{
    [Fact]
    public void Sd15Shapes_InferTheSd15Configs()
    {
        // Given the keys and shapes of v1-5-pruned-emaonly.safetensors
        using var checkpoint = SingleFileCheckpoint.Open(SingleFileTestData.SparseFile(SingleFileTestData.OriginalLayout(SingleFileTestData.Sd15)));

        // When the configs are inferred
        var c = checkpoint.InferConfigs();

        // Then they are the configs of runwayml/stable-diffusion-v1-5
        Assert.Equal(LdmTextLayout.OpenAiClip, checkpoint.TextLayout);
        Assert.Equal([320, 640, 1280, 1280], c.UNet.BlockOutChannels);
        Assert.Equal(2, c.UNet.LayersPerBlock);
        Assert.Equal(["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"], c.UNet.DownBlockTypes);
        Assert.Equal(["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"], c.UNet.UpBlockTypes);
        Assert.Equal("UNetMidBlock2DCrossAttn", c.UNet.MidBlockType);
        Assert.Equal(768, c.UNet.CrossAttentionDim);
        Assert.False(c.UNet.UseLinearProjection);
        Assert.Equal([8, 8, 8, 8], c.UNet.HeadsPerBlock);
        Assert.Equal(64, c.UNet.SampleSize);
        Assert.Equal([128, 256, 512, 512], c.Vae.BlockOutChannels);
        Assert.Equal(2, c.Vae.LayersPerBlock);
        Assert.Equal(4, c.Vae.LatentChannels);
        Assert.Equal((768, 12, 12, 3072, "quick_gelu", 77), (c.TextEncoder.HiddenSize, c.TextEncoder.NumHiddenLayers,
            c.TextEncoder.NumAttentionHeads, c.TextEncoder.IntermediateSize, c.TextEncoder.HiddenAct, c.TextEncoder.MaxPositionEmbeddings));
        Assert.Equal(PredictionType.Epsilon, c.Scheduler.PredictionType);
        Assert.Equal((0.00085, 0.012, BetaSchedule.ScaledLinear, 1), (c.Scheduler.BetaStart, c.Scheduler.BetaEnd, c.Scheduler.BetaSchedule, c.Scheduler.StepsOffset));
        Assert.Null(c.PadToken);
    }

    [Fact]
    public void Sd21Shapes_InferTheSd21Configs_WithVPredictionAnd23TextLayers()
    {
        // Given the keys and shapes of v2-1_768-ema-pruned.safetensors (24 OpenCLIP resblocks and text_projection)
        using var checkpoint = SingleFileCheckpoint.Open(SingleFileTestData.SparseFile(SingleFileTestData.OriginalLayout(SingleFileTestData.Sd21)));

        // When the configs are inferred
        var c = checkpoint.InferConfigs();

        // Then they are the configs of stabilityai/stable-diffusion-2-1
        Assert.Equal(LdmTextLayout.OpenClip, checkpoint.TextLayout);
        Assert.Equal([320, 640, 1280, 1280], c.UNet.BlockOutChannels);
        Assert.Equal(1024, c.UNet.CrossAttentionDim);
        Assert.True(c.UNet.UseLinearProjection);
        Assert.Equal([5, 10, 20, 20], c.UNet.HeadsPerBlock);
        Assert.Equal(96, c.UNet.SampleSize);
        Assert.Equal((1024, 23, 16, 4096, "gelu"), (c.TextEncoder.HiddenSize, c.TextEncoder.NumHiddenLayers,
            c.TextEncoder.NumAttentionHeads, c.TextEncoder.IntermediateSize, c.TextEncoder.HiddenAct));
        Assert.Equal(PredictionType.VPrediction, c.Scheduler.PredictionType);
        Assert.Equal("!", c.PadToken);
    }

    [Fact]
    public void Sd21Shapes_WithEpsilon_InferTheBase512Model()
    {
        using var checkpoint = SingleFileCheckpoint.Open(SingleFileTestData.SparseFile(SingleFileTestData.OriginalLayout(SingleFileTestData.Sd21)));
        var c = checkpoint.InferConfigs(PredictionType.Epsilon);
        Assert.Equal(PredictionType.Epsilon, c.Scheduler.PredictionType);
        Assert.Equal(64, c.UNet.SampleSize);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RealKeyNames_MatchEveryParameterOfModelsWithTheSameStructure(bool sd2)
    {
        // Given the real key names of SD 1.5 or 2.1, and models of the same structure at small widths
        var real = sd2 ? SingleFileTestData.Sd21 : SingleFileTestData.Sd15;
        var small = real with { UNet = [32, 64, 96, 96], Context = 32, Vae = [32, 64, 96, 96], Text = 32, TextMlp = 64 };
        using var checkpoint = SingleFileCheckpoint.Open(SingleFileTestData.SparseFile(SingleFileTestData.OriginalLayout(small)));
        var unetConfig = new UNet2DConditionConfig
        {
            BlockOutChannels = [32, 64, 96, 96], CrossAttentionDim = 32, AttentionHeadDim = new IntOrList([4, 4, 4, 4]),
            UseLinearProjection = sd2,
        };
        var vaeConfig = new AutoencoderKLConfig
        {
            BlockOutChannels = [32, 64, 96, 96], LayersPerBlock = 2,
            DownBlockTypes = Enumerable.Repeat("DownEncoderBlock2D", 4).ToArray(), UpBlockTypes = Enumerable.Repeat("UpDecoderBlock2D", 4).ToArray(),
        };
        var textConfig = new ClipTextConfig { HiddenSize = 32, IntermediateSize = 64, NumAttentionHeads = 2, NumHiddenLayers = sd2 ? 23 : 12, HiddenAct = sd2 ? "gelu" : "quick_gelu" };
        using var text = new ClipTextModel(textConfig);
        using var unet = new UNet2DConditionModel(unetConfig);
        using var vae = new AutoencoderKL(vaeConfig);

        // When the keys are matched, then every parameter finds its key and every key its parameter (or is a known extra)
        checkpoint.CheckKeys(text, unet, vae);
    }
}
