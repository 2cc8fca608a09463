using SkiaSharp;

namespace Imagic.Imaging;

/// <summary>Lays images out in a labelled grid, e.g. one row per seed and one column per interpolation weight η.</summary>
public static class ImageGrid
{
    const float FontSize = 16f;
    const int MaxRowLabelWidth = 256;

    /// <summary>
    /// Composes <paramref name="rows"/> into one image on a white background. Every cell is as large as
    /// the largest image, which is centred in it; rows may have different lengths. Labels are drawn in
    /// black with the default sans-serif typeface and shortened with "…" to fit; if no font is available
    /// the grid is still produced, with blank label bands.
    /// </summary>
    /// <param name="rows">The images, row by row; at least one image in all.</param>
    /// <param name="columnLabels">One label per column, drawn above the grid; null for none.</param>
    /// <param name="rowLabels">One label per row, drawn left of the grid; null for none.</param>
    /// <param name="padding">Pixels between cells and around the grid; default 8.</param>
    /// <param name="minCellSize">Images narrower than this are enlarged by pixel repetition (an integer factor)
    /// so that small model outputs and their labels stay readable; default 0 (never).</param>
    public static RgbImage Compose(IReadOnlyList<IReadOnlyList<RgbImage>> rows,
        IReadOnlyList<string>? columnLabels = null, IReadOnlyList<string>? rowLabels = null, int padding = 8, int minCellSize = 0)
    {
        if (minCellSize > 0)
            rows = rows.Select(r => (IReadOnlyList<RgbImage>)r.Select(i =>
                i.Width >= minCellSize ? i : i.Enlarge((minCellSize + i.Width - 1) / i.Width)).ToList()).ToList();
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        int columns = rows.Count == 0 ? 0 : rows.Max(r => r.Count);
        if (columns == 0)
            throw new ArgumentException("A grid needs at least one image.", nameof(rows));
        if (columnLabels is not null && columnLabels.Count != columns)
            throw new ArgumentException($"Got {columnLabels.Count} column labels for {columns} columns.", nameof(columnLabels));
        if (rowLabels is not null && rowLabels.Count != rows.Count)
            throw new ArgumentException($"Got {rowLabels.Count} row labels for {rows.Count} rows.", nameof(rowLabels));

        int cellW = rows.SelectMany(r => r).Max(i => i.Width);
        int cellH = rows.SelectMany(r => r).Max(i => i.Height);

        // SKTypeface.Default is shared by the process, so only a typeface created here is disposed.
        using var created = SKTypeface.FromFamilyName("sans-serif");
        var typeface = created ?? SKTypeface.Default;
        using var textPaint = new SKPaint
        {
            Typeface = typeface, TextSize = FontSize, IsAntialias = true, Color = SKColors.Black,
        };
        // A typeface without glyphs (no fonts installed) draws nothing; skip text rather than fail.
        bool canDrawText = typeface is { GlyphCount: > 0 };
        var metrics = textPaint.FontMetrics;
        int textHeight = (int)Math.Ceiling(metrics.Descent - metrics.Ascent);

        int labelBandH = columnLabels is null ? 0 : textHeight + padding;
        int labelBandW = rowLabels is null ? 0
            : Math.Min(MaxRowLabelWidth, (int)Math.Ceiling(rowLabels.Max(l => canDrawText ? textPaint.MeasureText(l) : 0f))) + padding;
        int width = labelBandW + padding + columns * (cellW + padding);
        int height = labelBandH + padding + rows.Count * (cellH + padding);

        using var grid = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(grid))
        {
            canvas.Clear(SKColors.White);
            for (int r = 0; r < rows.Count; r++)
            {
                for (int c = 0; c < rows[r].Count; c++)
                {
                    var image = rows[r][c];
                    using var bitmap = ImageIO.ToBitmap(image);
                    int x = labelBandW + padding + c * (cellW + padding) + (cellW - image.Width) / 2;
                    int y = labelBandH + padding + r * (cellH + padding) + (cellH - image.Height) / 2;
                    canvas.DrawBitmap(bitmap, x, y);
                }
            }
            if (canDrawText)
            {
                float baseline = padding - metrics.Ascent;
                for (int c = 0; c < (columnLabels?.Count ?? 0); c++)
                {
                    string text = Shorten(columnLabels![c], cellW, textPaint);
                    float x = labelBandW + padding + c * (cellW + padding) + (cellW - textPaint.MeasureText(text)) / 2;
                    canvas.DrawText(text, x, baseline, textPaint);
                }
                for (int r = 0; r < (rowLabels?.Count ?? 0); r++)
                {
                    string text = Shorten(rowLabels![r], labelBandW - padding, textPaint);
                    float y = labelBandH + padding + r * (cellH + padding) + (cellH + textHeight) / 2f - metrics.Descent;
                    canvas.DrawText(text, padding, y, textPaint);
                }
            }
            canvas.Flush();
        }
        return ImageIO.FromBitmap(grid);
    }

    static string Shorten(string text, int maxWidth, SKPaint paint)
    {
        if (paint.MeasureText(text) <= maxWidth)
            return text;
        for (int n = text.Length - 1; n > 0; n--)
        {
            string candidate = text[..n].TrimEnd() + "…";
            if (paint.MeasureText(candidate) <= maxWidth)
                return candidate;
        }
        return "";
    }
}
