using Imagic.Pipelines;

namespace Imagic.Tests.Pipelines;

[Collection(TinySd1Collection.Name)]
public class SamplingMemoryTests(TinySd1Fixture fixture)
{
    [Fact]
    public void Estimate_GrowsWithThePixelCount_AboveTheWeights()
    {
        var pipe = fixture.Pipeline;

        var (weights, _, _) = SamplingMemory.EstimateParts(pipe, 64, 64);
        long small = SamplingMemory.EstimateBytes(pipe, 256, 256);
        long large = SamplingMemory.EstimateBytes(pipe, 512, 512);

        Assert.True(small > weights);
        // Four times the pixels: about four times the activations.
        Assert.InRange((large - weights) / (double)(small - weights), 3.5, 4.5);
    }

    [Fact]
    public void Estimate_OfAHugeImage_IsFarBeyondAnyMachine()
    {
        long bytes = SamplingMemory.EstimateBytes(fixture.Pipeline, 100_000, 100_000);

        Assert.True(bytes > 1L << 40, SamplingMemory.Format(bytes));
        Assert.EndsWith(" TB", SamplingMemory.Format(bytes));
    }

    [Fact]
    public void Estimate_WithoutGuidance_NeedsNoMoreThanWithIt()
    {
        var pipe = fixture.Pipeline;
        Assert.True(SamplingMemory.EstimateParts(pipe, 256, 256, guided: false).UNet * 2
            == SamplingMemory.EstimateParts(pipe, 256, 256, guided: true).UNet);
    }

    [Fact]
    public void Estimate_WithVaeTiling_CountsTheDecoderAtOneTile()
    {
        // Given the bundled model (32-px tiles) without and with VAE tiling
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        var untiled = SamplingMemory.EstimateParts(pipe, 256, 256).Decoder;
        pipe.VaeTiling = new VaeTiling();

        // When the decoder's memory is estimated at 256 px and at one tile
        var tiled = SamplingMemory.EstimateParts(pipe, 256, 256).Decoder;
        var oneTile = SamplingMemory.EstimateParts(pipe, 32, 32).Decoder;

        // Then tiling counts one tile, 64 times less than the whole image
        Assert.Equal(oneTile, tiled);
        Assert.Equal(untiled, 64 * tiled);
    }
}
