using Imagic.Pipelines;

namespace Imagic.Tests.Pipelines;

[Collection(TinySd1Collection.Name)]
public class SamplingMemoryTests(TinySd1Fixture fixture)
{
    [Fact]
    public void Estimate_GrowsWithThePixelCount_AboveTheWeightsAndRuntime()
    {
        var pipe = fixture.Pipeline;

        var (weights, _, _) = SamplingMemory.EstimateParts(pipe, 64, 64);
        long fixedBytes = weights + SamplingMemory.RuntimeBytes;
        long small = SamplingMemory.EstimateBytes(pipe, 256, 256);
        long large = SamplingMemory.EstimateBytes(pipe, 512, 512);

        Assert.True(small > fixedBytes);
        // Four times the pixels: about four times the activations.
        Assert.InRange((large - fixedBytes) / (double)(small - fixedBytes), 3.5, 4.5);
    }

    [Fact]
    public void Estimate_NeverShrinks_AsEitherSideGrows()
    {
        // Given the tiny model, and sides from one latent pixel to 1024 px
        var pipe = fixture.Pipeline;
        int[] sides = [8, 16, 40, 64, 128, 200, 256, 512, 1024];

        // When the estimate is taken for every height and width among them
        long[,] bytes = new long[sides.Length, sides.Length];
        for (int i = 0; i < sides.Length; i++)
            for (int j = 0; j < sides.Length; j++)
                bytes[i, j] = SamplingMemory.EstimateBytes(pipe, sides[i], sides[j]);

        // Then a larger height or width never needs less
        for (int i = 0; i < sides.Length; i++)
            for (int j = 0; j < sides.Length; j++)
            {
                if (i > 0) Assert.True(bytes[i, j] >= bytes[i - 1, j], $"{sides[j]}x{sides[i]} needs less than {sides[j]}x{sides[i - 1]}");
                if (j > 0) Assert.True(bytes[i, j] >= bytes[i, j - 1], $"{sides[j]}x{sides[i]} needs less than {sides[j - 1]}x{sides[i]}");
            }
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
        // Given the bundled model (tiles of its own size) without and with VAE tiling
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        int tile = pipe.DefaultResolution, side = 8 * tile;
        var untiled = SamplingMemory.EstimateParts(pipe, side, side).Decoder;
        pipe.VaeTiling = new VaeTiling();

        // When the decoder's memory is estimated at 8 × 8 tiles and at one tile
        var tiled = SamplingMemory.EstimateParts(pipe, side, side).Decoder;
        var oneTile = SamplingMemory.EstimateParts(pipe, tile, tile).Decoder;

        // Then tiling counts one tile, 64 times less than the whole image
        Assert.Equal(oneTile, tiled);
        Assert.Equal(untiled, 64 * tiled);
    }
}
