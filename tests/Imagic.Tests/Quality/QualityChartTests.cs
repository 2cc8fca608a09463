using Imagic.Quality;

namespace Imagic.Tests.Quality;

public class QualityChartTests
{
    [Fact]
    public void Draw_TwoSeries_PaintsEachSeriesColour()
    {
        var series = new[]
        {
            new QualityChart.Series("imagic (η)", [(0.5, 0.2, "0"), (0.6, 0.5, "0.5"), (0.7, 0.9, "1")]),
            new QualityChart.Series("sdedit (strength)", [(0.55, 0.1, "0.2"), (0.65, 0.3, "0.8")]),
        };

        var image = QualityChart.Draw(series, "x", "y", "title");

        Assert.Equal((900, 600), (image.Width, image.Height));
        var colours = Enumerable.Range(0, image.Width * image.Height).Select(i => image.GetPixel(i % image.Width, i / image.Width)).ToHashSet();
        Assert.Contains(new Imagic.Imaging.Rgb(0xD6, 0x27, 0x28), colours); // first series
        Assert.Contains(new Imagic.Imaging.Rgb(0x1F, 0x77, 0xB4), colours); // second series
    }

    [Theory]
    [InlineData(0.52, 0.87, 0.5, 0.9, 0.1)]
    [InlineData(0.0, 1.0, 0.0, 1.0, 0.2)]
    [InlineData(0.7, 0.7, 0.64, 0.76, 0.02)]
    public void NiceRange_CoversTheDataWithRoundTicks(double min, double max, double lo, double hi, double step)
    {
        var range = QualityChart.NiceRange(min, max);
        Assert.Equal(lo, range.Min, 9);
        Assert.Equal(hi, range.Max, 9);
        Assert.Equal(step, range.Step, 9);
    }

    [Fact]
    public void Enlarge_RepeatsEachPixel()
    {
        var image = new Imagic.Imaging.RgbImage(2, 1, [1, 2, 3, 4, 5, 6]);
        var big = QualityChart.Enlarge(image, 2);
        Assert.Equal((4, 2), (big.Width, big.Height));
        Assert.Equal(new Imagic.Imaging.Rgb(4, 5, 6), big.GetPixel(3, 1));
        Assert.Equal(new Imagic.Imaging.Rgb(1, 2, 3), big.GetPixel(1, 0));
    }
}

public class QualityChartAxisTests
{
    [Fact]
    public void Draw_UneditedRegionAxis_SkipsRowsWithoutTheMeasure()
    {
        // A v1-style summary has no unedited-region PSNR: the chart still renders, with no curve to draw.
        var row = new SummaryRow("t2i", "guidance", 3, BenchReport.AllCategories, 1, 0.5, 0.5, 0.5, 0.5, 20, 0.8, 0.2, 0.1, 1);
        var bench = new BenchResults("shapes-v1", "f", null, "m", "in-memory", 64, new BenchSettings(), ["t2i"], [], [], [row]);
        var withRegion = bench with { Suite = "shapes-v2", Summary = [row with { UneditedPsnr = 31.5 }] };

        var empty = QualityChart.Draw(bench, QualityChart.Axis.UneditedRegion);
        var drawn = QualityChart.Draw(withRegion, QualityChart.Axis.UneditedRegion);

        bool HasSeriesColour(Imagic.Imaging.RgbImage image) => Enumerable.Range(0, image.Width * image.Height)
            .Any(i => image.GetPixel(i % image.Width, i / image.Width) == new Imagic.Imaging.Rgb(0xD6, 0x27, 0x28));
        Assert.False(HasSeriesColour(empty));
        Assert.True(HasSeriesColour(drawn));
    }
}
