using Imagic.World;
using SkiaSharp;

namespace Imagic.Tests.World;

public class SceneRendererTests
{
    static readonly Scene RedCircleOnGrey = new(Background.Grey,
        new SceneObject(Shape.Circle, NamedColor.Red, Size.Large, GridPosition.Center, Pose.Regular));

    [Fact]
    public void Render_SameSeed_GivesBitwiseIdenticalImages()
    {
        var first = new SceneSampler(8).Next(50).Select(s => SceneRenderer.Render(s).Chw).ToArray();
        var second = new SceneSampler(8).Next(50).Select(s => SceneRenderer.Render(s).Chw).ToArray();

        for (int i = 0; i < first.Length; i++)
            Assert.True(first[i].AsSpan().SequenceEqual(second[i]), $"scene {i}");
    }

    [Fact]
    public void Render_IsChannelFirstWithValuesInUnitRange()
    {
        var image = SceneRenderer.Render(RedCircleOnGrey, size: 32);

        Assert.Equal(32, image.Size);
        Assert.Equal(3 * 32 * 32, image.Chw.Length);
        Assert.All(image.Chw, v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(Palette.Of(NamedColor.Red), image[16, 16]);
        Assert.Equal(Palette.Of(Background.Grey), image[0, 0]);
        // Channel planes: the red channel of the centre pixel sits at index 16·32 + 16.
        Assert.Equal(Palette.Of(NamedColor.Red).R, image.Chw[16 * 32 + 16]);
        Assert.Equal(Palette.Of(NamedColor.Red).G, image.Chw[32 * 32 + 16 * 32 + 16]);
    }

    [Fact]
    public void Render_CircleCoverage_MatchesItsArea()
    {
        const int size = 64;
        var coverage = new float[size * size];
        double r = WorldGeometry.HalfExtent(Size.Large);

        SceneRenderer.Rasterize(Shape.Circle, 0.5, 0.5, r, r, size, 4, coverage);

        double area = coverage.Sum() / (size * size);
        Assert.InRange(area / (Math.PI * r * r), 0.99, 1.01);
    }

    [Fact]
    public void Render_EdgePixels_BlendObjectAndBackground()
    {
        var image = SceneRenderer.Render(RedCircleOnGrey);
        var red = Palette.Of(NamedColor.Red);
        var grey = Palette.Of(Background.Grey);

        int blended = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                if (image[x, y] != red && image[x, y] != grey)
                    blended++;

        Assert.InRange(blended, 10, 80); // an anti-aliased rim, not a hard edge or a smear
    }

    [Fact]
    public void Render_Ring_HasABackgroundHole()
    {
        var ring = RedCircleOnGrey with { Primary = RedCircleOnGrey.Primary with { Shape = Shape.Ring } };

        var image = SceneRenderer.Render(ring);

        Assert.Equal(Palette.Of(Background.Grey), image[16, 16]);
    }

    [Fact]
    public void ToRgbBytes_InterleavesAndRounds()
    {
        var image = new SceneImage(1, [1f, 0.5f, 0f]);

        Assert.Equal(new byte[] { 255, 128, 0 }, image.ToRgbBytes());
    }

    [Fact]
    public void ToTensor_HasShapeThreeByHeightByWidth()
    {
        var image = SceneRenderer.Render(RedCircleOnGrey, size: 16);

        using var tensor = image.ToTensor();

        Assert.Equal(new long[] { 3, 16, 16 }, tensor.shape);
        Assert.Equal(image.Chw[5], tensor[0, 0, 5].item<float>());
    }

    [Fact]
    public void SavePng_WritesAnImageThatDecodesToTheSamePixels()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "scene.png");
        var image = SceneRenderer.Render(RedCircleOnGrey);

        image.SavePng(path);

        using var bitmap = SKBitmap.Decode(path);
        var bytes = image.ToRgbBytes();
        var pixel = bitmap.GetPixel(16, 16);
        int i = 3 * (16 * 32 + 16);
        Assert.Equal((32, 32), (bitmap.Width, bitmap.Height));
        Assert.Equal((bytes[i], bytes[i + 1], bytes[i + 2]), (pixel.Red, pixel.Green, pixel.Blue));
    }
}
