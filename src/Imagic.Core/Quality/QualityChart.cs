using System.Globalization;
using Imagic.Imaging;
using SkiaSharp;

namespace Imagic.Quality;

/// <summary>The benchmark's pictures: the success–fidelity chart and the grid of example edits.</summary>
public static class QualityChart
{
    /// <summary>What the chart's x axis shows.</summary>
    public enum Axis
    {
        /// <summary>Mean SSIM of the output to the ground-truth edit: fidelity to the right answer.</summary>
        SsimToGroundTruth,
        /// <summary>Mean SSIM of the output to the input (1 − the input distance): the paper's 1 − LPIPS axis.</summary>
        SimilarityToInput,
    }

    /// <summary>A curve of the chart: one method, one point per sweep value.</summary>
    public sealed record Series(string Name, IReadOnlyList<(double X, double Y, string Label)> Points);

    const int Width = 900, Height = 600;
    const float Left = 80, Right = 210, Top = 56, Bottom = 70;

    static readonly SKColor[] Colors =
    [
        new(0xD6, 0x27, 0x28), new(0x1F, 0x77, 0xB4), new(0x2C, 0xA0, 0x2C), new(0xFF, 0x7F, 0x0E),
        new(0x94, 0x67, 0xBD), new(0x8C, 0x56, 0x4B),
    ];

    /// <summary>
    /// Edit success (y, % of cases) against the chosen fidelity measure (x) over all categories: one curve
    /// per method, one labelled point per sweep value.
    /// </summary>
    public static RgbImage Draw(BenchResults bench, Axis axis)
    {
        var series = bench.Methods
            .Select(m => new Series(
                $"{m} ({(ParameterOf(bench, m) is "eta" ? "η" : ParameterOf(bench, m))})",
                bench.Summary.Where(r => r.Method == m && r.Category == BenchReport.AllCategories)
                    .OrderBy(r => r.Value)
                    .Select(r => (axis == Axis.SsimToGroundTruth ? r.Ssim : 1 - r.InputDistance, r.EditSuccess,
                        r.Value.ToString("0.0#", CultureInfo.InvariantCulture)))
                    .ToArray()))
            .Where(s => s.Points.Count > 0)
            .ToArray();
        string xLabel = axis == Axis.SsimToGroundTruth
            ? "fidelity: mean SSIM to the ground-truth edit"
            : "similarity to the input: mean SSIM(output, input)";
        string title = $"{bench.Suite}, {bench.Cases.Count} cases: edit success vs " +
            (axis == Axis.SsimToGroundTruth ? "fidelity" : "similarity to the input");
        return Draw(series, xLabel, "edit success (% of cases)", title);
    }

    static string ParameterOf(BenchResults bench, string method) =>
        bench.Summary.FirstOrDefault(r => r.Method == method)?.Parameter ?? "";

    /// <summary>
    /// A line chart with y in [0, 1] shown as 0–100 % and x scaled to the data with round ticks; grid lines,
    /// tick labels, axis titles, a title and a legend. Text is skipped if the system has no font.
    /// </summary>
    public static RgbImage Draw(IReadOnlyList<Series> series, string xLabel, string yLabel, string title)
    {
        var xs = series.SelectMany(s => s.Points.Select(p => p.X)).ToArray();
        var (xMin, xMax, xStep) = NiceRange(xs.Length == 0 ? 0 : xs.Min(), xs.Length == 0 ? 1 : xs.Max());
        float plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        float X(double x) => Left + (float)((x - xMin) / (xMax - xMin)) * plotW;
        float Y(double y) => Top + (1 - (float)y) * plotH;

        using var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        // Fontconfig may map the generic "sans-serif" to a serif face; ask for the usual Linux sans first.
        using var created = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.FromFamilyName("sans-serif");
        var typeface = created ?? SKTypeface.Default;
        bool canDrawText = typeface is { GlyphCount: > 0 };
        using var text = new SKPaint { Typeface = typeface, TextSize = 14, IsAntialias = true, Color = SKColors.Black };
        using var small = new SKPaint { Typeface = typeface, TextSize = 11, IsAntialias = true, Color = new SKColor(60, 60, 60) };
        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1, IsAntialias = false };
        using var axisPaint = new SKPaint { Color = SKColors.Black, StrokeWidth = 1.5f, IsAntialias = true, Style = SKPaintStyle.Stroke };

        // grid and ticks
        for (int i = 0; i <= 10; i++)
        {
            double y = i / 10.0;
            canvas.DrawLine(Left, Y(y), Left + plotW, Y(y), grid);
            canvas.DrawLine(Left - 5, Y(y), Left, Y(y), axisPaint);
            if (canDrawText)
            {
                string label = $"{i * 10}%";
                canvas.DrawText(label, Left - 9 - text.MeasureText(label), Y(y) + 5, text);
            }
        }
        int xTicks = (int)Math.Round((xMax - xMin) / xStep);
        for (int i = 0; i <= xTicks; i++)
        {
            double x = xMin + i * xStep;
            canvas.DrawLine(X(x), Top, X(x), Top + plotH, grid);
            canvas.DrawLine(X(x), Top + plotH, X(x), Top + plotH + 5, axisPaint);
            if (canDrawText)
            {
                string label = x.ToString(xStep < 0.01 ? "0.000" : xStep < 0.1 ? "0.00" : "0.0", CultureInfo.InvariantCulture);
                canvas.DrawText(label, X(x) - text.MeasureText(label) / 2, Top + plotH + 22, text);
            }
        }
        canvas.DrawRect(Left, Top, plotW, plotH, axisPaint);

        // curves, markers and point labels
        for (int s = 0; s < series.Count; s++)
        {
            var color = Colors[s % Colors.Length];
            using var line = new SKPaint { Color = color, StrokeWidth = 2.5f, IsAntialias = true, Style = SKPaintStyle.Stroke };
            using var dot = new SKPaint { Color = color, IsAntialias = true, Style = SKPaintStyle.Fill };
            var points = series[s].Points;
            for (int i = 1; i < points.Count; i++)
                canvas.DrawLine(X(points[i - 1].X), Y(points[i - 1].Y), X(points[i].X), Y(points[i].Y), line);
            foreach (var p in points)
            {
                canvas.DrawCircle(X(p.X), Y(p.Y), 4.5f, dot);
                if (canDrawText)
                    canvas.DrawText(p.Label, X(p.X) + 6, Y(p.Y) - 6, small);
            }
        }

        if (canDrawText)
        {
            // titles
            using var bold = new SKPaint { Typeface = typeface, TextSize = 17, IsAntialias = true, Color = SKColors.Black, FakeBoldText = true };
            canvas.DrawText(title, Left, Top - 22, bold);
            canvas.DrawText(xLabel, Left + (plotW - text.MeasureText(xLabel)) / 2, Height - 20, text);
            canvas.Save();
            canvas.RotateDegrees(-90, 22, Top + plotH / 2);
            canvas.DrawText(yLabel, 22 - text.MeasureText(yLabel) / 2, Top + plotH / 2 + 5, text);
            canvas.Restore();

            // legend
            float lx = Left + plotW + 20, ly = Top + 10;
            canvas.DrawText("method (swept)", lx, ly, text);
            for (int s = 0; s < series.Count; s++)
            {
                var color = Colors[s % Colors.Length];
                using var line = new SKPaint { Color = color, StrokeWidth = 2.5f, IsAntialias = true };
                float y = ly + 24 + s * 22;
                canvas.DrawLine(lx, y - 5, lx + 24, y - 5, line);
                canvas.DrawCircle(lx + 12, y - 5, 4.5f, line);
                canvas.DrawText(series[s].Name, lx + 32, y, text);
            }
            canvas.DrawText("labels: swept value", lx, ly + 34 + series.Count * 22, small);
        }
        canvas.Flush();
        return ImageIO.FromBitmap(bitmap);
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
