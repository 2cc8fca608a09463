using System.Globalization;
using Imagic.Imaging;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;
using OxyPlot.SkiaSharp;
using SkiaSharp;

namespace Imagic.Quality;

/// <summary>The benchmark's pictures: the success–fidelity charts (drawn with OxyPlot) and the grid of example edits.</summary>
public static class QualityChart
{
    /// <summary>What the chart's x axis shows.</summary>
    public enum Axis
    {
        /// <summary>Mean SSIM of the output to the ground-truth edit: fidelity to the right answer.</summary>
        SsimToGroundTruth,
        /// <summary>Mean SSIM of the output to the input (1 − the input distance): the paper's 1 − LPIPS axis.</summary>
        SimilarityToInput,
        /// <summary>World v2: mean PSNR of the unedited region against the input (<see cref="EditScore.UneditedPsnr"/>).</summary>
        UneditedRegion,
    }

    /// <summary>A curve of the chart: one method, one point per sweep value.</summary>
    public sealed record Series(string Name, IReadOnlyList<(double X, double Y, string Label)> Points);

    const int Width = 900, Height = 600;

    static readonly OxyColor[] Colors =
    [
        OxyColor.FromRgb(0xD6, 0x27, 0x28), OxyColor.FromRgb(0x1F, 0x77, 0xB4), OxyColor.FromRgb(0x2C, 0xA0, 0x2C),
        OxyColor.FromRgb(0xFF, 0x7F, 0x0E), OxyColor.FromRgb(0x94, 0x67, 0xBD), OxyColor.FromRgb(0x8C, 0x56, 0x4B),
    ];

    /// <summary>
    /// Edit success (y, % of cases) against the chosen fidelity measure (x) over all categories: one curve
    /// per method, one labelled point per sweep value. Rows without the measure (the unedited region on a v1 suite) are left out.
    /// </summary>
    public static RgbImage Draw(BenchResults bench, Axis axis)
    {
        double? X(SummaryRow r) => axis switch
        {
            Axis.SsimToGroundTruth => r.Ssim,
            Axis.SimilarityToInput => 1 - r.InputDistance,
            _ => r.UneditedPsnr,
        };
        var series = bench.Methods
            .Select(m => new Series(
                $"{m} ({(ParameterOf(bench, m) is "eta" ? "η" : ParameterOf(bench, m))})",
                bench.Summary.Where(r => r.Method == m && r.Category == BenchReport.AllCategories && X(r) is not null)
                    .OrderBy(r => r.Value)
                    .Select(r => (X(r)!.Value, r.EditSuccess, r.Value.ToString("0.0#", CultureInfo.InvariantCulture)))
                    .ToArray()))
            .Where(s => s.Points.Count > 0)
            .ToArray();
        var (xLabel, what) = axis switch
        {
            Axis.SsimToGroundTruth => ("fidelity: mean SSIM to the ground-truth edit", "fidelity"),
            Axis.SimilarityToInput => ("similarity to the input: mean SSIM(output, input)", "similarity to the input"),
            _ => ("unedited region: mean PSNR (dB) against the input, outside the edited object", "unedited-region fidelity"),
        };
        return Draw(series, xLabel, "edit success (% of cases)", $"{bench.Suite}, {bench.Cases.Count} cases: edit success vs {what}");
    }

    static string ParameterOf(BenchResults bench, string method) =>
        bench.Summary.FirstOrDefault(r => r.Method == method)?.Parameter ?? "";

    /// <summary>
    /// A line chart with y in [0, 1] shown as 0–100 % and x scaled to the data with round ticks (<see cref="NiceRange"/>);
    /// grid lines, axis titles, a title, a legend and a label at every point. Drawn with OxyPlot and rendered by SkiaSharp.
    /// </summary>
    public static RgbImage Draw(IReadOnlyList<Series> series, string xLabel, string yLabel, string title)
    {
        var xs = series.SelectMany(s => s.Points.Select(p => p.X)).ToArray();
        var (xMin, xMax, xStep) = NiceRange(xs.Length == 0 ? 0 : xs.Min(), xs.Length == 0 ? 1 : xs.Max());
        // Fontconfig may map a generic family to a serif face; ask for the usual Linux sans.
        var model = new PlotModel { Title = title, TitleFontSize = 17, DefaultFont = "DejaVu Sans", DefaultFontSize = 13, Background = OxyColors.White };
        var grid = OxyColor.FromRgb(225, 225, 225);
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Bottom, Title = xLabel, Minimum = xMin, Maximum = xMax, MajorStep = xStep,
            MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = grid, IsZoomEnabled = false, IsPanEnabled = false,
            StringFormat = xStep < 0.01 ? "0.000" : xStep < 0.1 ? "0.00" : xStep < 1 ? "0.0" : "0",
        });
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Left, Title = yLabel, Minimum = 0, Maximum = 1, MajorStep = 0.1,
            MajorGridlineStyle = LineStyle.Solid, MajorGridlineColor = grid, IsZoomEnabled = false, IsPanEnabled = false,
            LabelFormatter = y => string.Create(CultureInfo.InvariantCulture, $"{100 * y:0}%"),
        });
        model.Legends.Add(new Legend
        {
            LegendTitle = "method (swept); labels: swept value", LegendPlacement = LegendPlacement.Outside,
            LegendPosition = LegendPosition.RightTop, LegendFontSize = 13,
        });
        for (int s = 0; s < series.Count; s++)
        {
            var color = Colors[s % Colors.Length];
            var line = new LineSeries
            {
                Title = series[s].Name, Color = color, StrokeThickness = 2.5, MarkerType = MarkerType.Circle, MarkerSize = 4.5,
                MarkerFill = color, MarkerStroke = color,
            };
            foreach (var p in series[s].Points)
            {
                line.Points.Add(new DataPoint(p.X, p.Y));
                model.Annotations.Add(new TextAnnotation
                {
                    Text = p.Label, TextPosition = new DataPoint(p.X, p.Y), Offset = new ScreenVector(6, -6), FontSize = 11,
                    TextColor = OxyColor.FromRgb(60, 60, 60), Stroke = OxyColors.Transparent, Background = OxyColors.Undefined,
                    TextHorizontalAlignment = HorizontalAlignment.Left, TextVerticalAlignment = VerticalAlignment.Bottom,
                });
            }
            model.Series.Add(line);
        }
        using var png = new MemoryStream();
        new PngExporter { Width = Width, Height = Height }.Export(model, png);
        using var decoded = SKBitmap.Decode(png.ToArray());
        using var rgba = decoded.Copy(SKColorType.Rgba8888);
        return ImageIO.FromBitmap(rgba);
    }

    /// <summary>An axis range covering [min, max] that starts and ends on a tick, with 1-2-5 tick steps (4–10 ticks).</summary>
    internal static (double Min, double Max, double Step) NiceRange(double min, double max)
    {
        if (max - min < 1e-6) { min -= 0.05; max += 0.05; }
        double raw = (max - min) / 6;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(f => f * magnitude).First(s => s >= raw);
        double lo = Math.Floor(min / step) * step, hi = Math.Ceiling(max / step) * step;
        return (lo, hi, step);
    }

    /// <summary>
    /// A grid of example edits: one row per category (its first case), with the input, the ground truth and
    /// each method's output at its best setting (<see cref="BenchReport.BestPoints"/>). Images are enlarged
    /// with nearest-neighbour sampling to about 128 px so that 32 px pixels stay sharp.
    /// </summary>
    public static RgbImage Examples(BenchResults bench, string outDir)
    {
        var best = BenchReport.BestPoints(bench.Summary);
        var methods = bench.Methods.Where(best.ContainsKey).ToArray();
        var rows = bench.Cases.GroupBy(c => c.Category).Select(g => g.First()).ToArray();
        int factor = Math.Max(1, 128 / bench.Resolution);
        var images = new List<IReadOnlyList<RgbImage>>();
        foreach (var c in rows)
        {
            var row = new List<RgbImage> { Load(c.Input), Load(c.GroundTruth) };
            foreach (var m in methods)
            {
                var point = bench.Results.First(r => r.Method == m && r.CaseId == c.Id).Points.First(p => p.Value == best[m]);
                row.Add(Load(point.Image));
            }
            images.Add(row);
        }
        var columns = new List<string> { "input", "ground truth" };
        foreach (var m in methods)
        {
            string p = bench.Results.First(r => r.Method == m).Parameter;
            string symbol = p switch { "eta" => "η", "strength" => "s", _ => "g" };
            columns.Add(string.Create(CultureInfo.InvariantCulture, $"{m} {symbol}={best[m]:0.##}"));
        }
        return ImageGrid.Compose(images, columns, rows.Select(c => $"{EditSuite.Slug(c.Category)}: {string.Join(", ", c.Edits)}").ToList(), minCellSize: 96);

        RgbImage Load(string relative) => Framed(Enlarge(ImageIO.Load(Path.Combine(outDir, relative)), factor));
    }

    /// <summary>The image inside a one-pixel grey frame, so that a white scene stands out from the white page.</summary>
    static RgbImage Framed(RgbImage image)
    {
        var framed = new RgbImage(image.Width + 2, image.Height + 2, new Rgb(160, 160, 160));
        for (int y = 0; y < image.Height; y++)
            Array.Copy(image.Pixels, y * image.Width * 3, framed.Pixels, ((y + 1) * framed.Width + 1) * 3, image.Width * 3);
        return framed;
    }

    /// <summary>Nearest-neighbour enlargement by an integer factor.</summary>
    internal static RgbImage Enlarge(RgbImage image, int factor)
    {
        if (factor == 1) return image;
        int w = image.Width * factor, h = image.Height * factor;
        var pixels = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int s = ((y / factor) * image.Width + x / factor) * 3, d = (y * w + x) * 3;
                pixels[d] = image.Pixels[s];
                pixels[d + 1] = image.Pixels[s + 1];
                pixels[d + 2] = image.Pixels[s + 2];
            }
        return new RgbImage(w, h, pixels);
    }
}
