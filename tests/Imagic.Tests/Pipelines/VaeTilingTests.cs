using Imagic.Imaging;
using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Pipelines;

/// <summary>
/// VAE tiling and slicing on the bundled model's trained VAE (its sample_size over its factor f is 16: tiles of 16 latent
/// pixels, 16f image pixels): a mosaic of 3×3 sample photos at the model's size is 48 latent pixels, 4×4 overlapping tiles.
/// </summary>
public class VaeTilingTests
{
    static Tensor Mosaic(int size)
    {
        var photos = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "samples"), "*.png").Order()
            .Select(p => ImageTensors.ToTensor(ImageIO.Fit(ImageIO.Load(p), size, size, FitMode.CenterCrop))).ToList();
        var rows = Enumerable.Range(0, 3).Select(r => torch.cat(Enumerable.Range(0, 3).Select(c => photos[(r + c) % photos.Count]).ToList(), dim: 3));
        return torch.cat(rows.ToList(), dim: 2);
    }

    static Tensor Periodic(int size)
    {
        var photo = ImageTensors.ToTensor(ImageIO.Fit(ImageIO.Load(Path.Combine(TestPaths.RepoRoot, "samples", "green-triangle-and-ring.png")),
            size, size, FitMode.CenterCrop));
        return photo.repeat(1, 1, 3, 3);
    }

    [Fact]
    public void DecodeLatents_WithTiling_WhenTheLatentsFitOneTile_EqualsUntiledExactly()
    {
        // Given the bundled model and the latents of one photo at its size (16 latent pixels: one tile)
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        using var scope = torch.NewDisposeScope();
        int size = pipe.DefaultResolution;
        var latents = pipe.EncodeImage(ImageTensors.ToTensor(ImageIO.Fit(ImageIO.Load(Path.Combine(TestPaths.RepoRoot, "samples", "red-circle.png")),
            size, size, FitMode.CenterCrop)));
        Assert.Equal(16, latents.shape[3]);

        // When it is decoded untiled and tiled
        var untiled = pipe.DecodeLatents(latents);
        pipe.VaeTiling = new VaeTiling();
        var tiled = pipe.DecodeLatents(latents);

        // Then both are the same to the bit
        Assert.True(untiled.equal(tiled).all().item<bool>());
    }

    [Fact]
    public void DecodeLatents_WithTiling_KeepsEachTileAndBlendsTheOverlapLinearly()
    {
        // Given the bundled model (factor f), default tiles (16 latent pixels, overlap 1/4: tiles every 12, so 4f px
        // blended and 12f px kept) and the latents of a mosaic of different photos (48 latent pixels)
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        int f = pipe.VaeScaleFactor, kept = 12 * f, blend = 4 * f;
        var latents = pipe.EncodeImage(Mosaic(pipe.DefaultResolution));
        Assert.Equal(48, latents.shape[3]);
        var scaled = latents.Over(pipe.Vae!.Config.ScalingFactor);

        // When they are decoded tiled, and the first two tiles of the first column are decoded alone
        pipe.VaeTiling = new VaeTiling();
        var tiled = pipe.DecodeLatents(latents);
        var first = pipe.Vae.Decode(scaled.narrow(2, 0, 16).narrow(3, 0, 16));
        var below = pipe.Vae.Decode(scaled.narrow(2, 12, 16).narrow(3, 0, 16));

        // Then the top-left 12f × 12f px is the first tile alone, and the next 4f rows go linearly from it to the tile below
        Assert.True(tiled.narrow(2, 0, kept).narrow(3, 0, kept).allclose(first.narrow(2, 0, kept).narrow(3, 0, kept), rtol: 0, atol: 1e-6));
        var w = TensorExtensions.Arange(blend, ScalarType.Float32).Over(blend).view(1, 1, blend, 1);
        var blended = (first.narrow(2, kept, blend).narrow(3, 0, kept) * w.SubtractedFrom(1)).Plus(below.narrow(2, 0, blend).narrow(3, 0, kept) * w);
        Assert.True(tiled.narrow(2, kept, blend).narrow(3, 0, kept).allclose(blended, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void DecodeAndEncode_WithTiling_OnAStationaryImage_StayCloseToUntiled()
    {
        // Given the bundled model and an image that repeats one photo 3×3 (48 latent pixels: 4×4 tiles of 16). Its
        // statistics are the same in every tile, so what differs is tiling's own error: tile borders and blended seams.
        // (On content whose statistics vary, a tile decoded alone differs more, by 0.16 on average on the mosaic of
        // different photos with this small VAE: its GroupNorms and mid-block attention see only the tile. diffusers'
        // tiling has the same property.)
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        using var scope = torch.NewDisposeScope();
        var image = Periodic(pipe.DefaultResolution);
        var latents = pipe.EncodeImage(image);
        var decoded = pipe.DecodeLatents(latents);

        // When it is encoded and decoded tiled
        pipe.VaeTiling = new VaeTiling();
        var tiledLatents = pipe.EncodeImage(image);
        var tiledDecoded = pipe.DecodeLatents(latents);

        // Then the shapes agree, and the results differ from the untiled ones by a few percent of their mean magnitude
        // (measured: decode 0.025 against a mean |pixel| of 0.63; encode 0.044 against a mean |z| of 0.77)
        Assert.Equal(latents.shape, tiledLatents.shape);
        Assert.Equal(decoded.shape, tiledDecoded.shape);
        double decodeError = (tiledDecoded - decoded).abs().mean().item<float>();
        double encodeError = (tiledLatents - latents).abs().mean().item<float>();
        double latentScale = latents.abs().mean().item<float>();
        Assert.True(decodeError < 0.04, $"tiled decode differs by {decodeError:F4} on average (pixels in [-1, 1])");
        Assert.True(encodeError < 0.1 * latentScale, $"tiled encode differs by {encodeError:F4} on average, latents' mean |z| {latentScale:F4}");
    }

    [Fact]
    public void DecodeLatents_WithTiling_OnSizesThatAreNoMultipleOfTheStride_CoversTheWholeImage()
    {
        // Given the bundled model, tiles of 8 latent pixels, and latents of 21×30 (strides of 6 leave partial tiles)
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        using var scope = torch.NewDisposeScope();
        pipe.VaeTiling = new VaeTiling { TileLatentSize = 8 };
        var latents = torch.randn(new long[] { 1, 4, 21, 30 }, generator: new Generator(3)).Times(0.5);

        // When they are decoded
        var image = pipe.DecodeLatents(latents);

        // Then the image has every pixel: f× the latent size, with no NaN from an unfilled tile
        int f = pipe.VaeScaleFactor;
        Assert.Equal(new long[] { 1, 3, 21 * f, 30 * f }, image.shape);
        Assert.True(Imagic.Training.NonFinite.IsAllFinite(image));
    }

    [Fact]
    public void DecodeLatents_WithSlicing_MatchesTheWholeBatch()
    {
        // Given the bundled model and a batch of two latents
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        using var scope = torch.NewDisposeScope();
        var latents = torch.randn(new long[] { 2, 4, 16, 16 }, generator: new Generator(4));

        // When the batch is decoded at once and one image at a time
        var whole = pipe.DecodeLatents(latents);
        pipe.VaeSlicing = true;
        var sliced = pipe.DecodeLatents(latents);

        // Then the images agree to float rounding, in order
        Assert.Equal(whole.shape, sliced.shape);
        Assert.True(torch.allclose(whole, sliced, rtol: 1e-4, atol: 1e-5), $"max difference {(whole - sliced).abs().max().item<float>()}");
    }

    [Fact]
    public void VaeTiling_WithAnOverlapOfOneOrMore_IsRefusedWithAMessage()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.BundledModel);
        pipe.VaeTiling = new VaeTiling { Overlap = 1 };
        using var latents = torch.zeros(1, 4, 40, 40);

        var e = Assert.Throws<ImagicException>(() => pipe.DecodeLatents(latents));
        Assert.Contains("overlap", e.Message);
    }
}
