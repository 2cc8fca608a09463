using Imagic.Editing;
using Imagic.Imaging;

namespace Imagic.Tests.Imaging;

public class ImageSpreadTests
{
    /// <summary>A 16×16 image of <paramref name="background"/> with a 4×4 square of <paramref name="square"/> (or none).</summary>
    static RgbImage Scene(Rgb background, Rgb? square)
    {
        var image = new RgbImage(16, 16, background);
        if (square is Rgb s)
            for (int y = 6; y < 10; y++)
                for (int x = 6; x < 10; x++)
                    image.SetPixel(x, y, s);
        return image;
    }

    [Fact]
    public void Of_IsZeroForOneColour_AndTheChannelStandardDeviationOtherwise()
    {
        Assert.Equal(0, ImageSpread.Of(new RgbImage(8, 8, new Rgb(3, 200, 77))));
        // Half the pixels 0 and half 100 in the red channel only: a standard deviation of 50 levels.
        var halves = new RgbImage(4, 2, new Rgb(0, 9, 9));
        for (int x = 0; x < 4; x++) halves.SetPixel(x, 1, new Rgb(100, 9, 9));
        Assert.Equal(50, ImageSpread.Of(halves), 9);
    }

    [Fact]
    public void LostThePicture_FlagsAFlatOutputOfADetailedInput_Only()
    {
        var input = Scene(new Rgb(200, 200, 200), new Rgb(220, 20, 20));
        var black = new RgbImage(16, 16, new Rgb(2, 1, 3));
        var noisyBlack = black.Clone();
        noisyBlack.SetPixel(3, 3, new Rgb(6, 1, 3)); // a level or two of noise is still flat
        var edited = Scene(new Rgb(200, 200, 200), new Rgb(20, 20, 220));

        Assert.True(ImageSpread.LostThePicture(black, input));
        Assert.True(ImageSpread.LostThePicture(noisyBlack, input));
        Assert.False(ImageSpread.LostThePicture(edited, input));
        // A flat input may well give a flat output: nothing is lost then.
        Assert.False(ImageSpread.LostThePicture(black, new RgbImage(16, 16, new Rgb(120, 120, 120))));
    }

    [Fact]
    public void SweepResult_FlatWarning_NamesTheFlatImagesOnOneLine()
    {
        var paths = new[] { "/r/samples/eta_0.80_seed_0.png", "/r/samples/eta_0.90_seed_0.png", "/r/samples/eta_1.00_seed_0.png" };
        Assert.Null(new SweepResult("/r/samples", "/r/samples/grid.png", paths, []).FlatWarning());

        var warning = new SweepResult("/r/samples", "/r/samples/grid.png", paths, [paths[1]]).FlatWarning();
        Assert.NotNull(warning);
        Assert.DoesNotContain('\n', warning);
        Assert.StartsWith("1 of 3 image(s) came out as one flat colour", warning);
        Assert.Contains("eta_0.90_seed_0.png", warning);
        Assert.DoesNotContain("eta_0.80", warning);
    }
}
