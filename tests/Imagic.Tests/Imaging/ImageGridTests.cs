using Imagic.Imaging;
using SkiaSharp;

namespace Imagic.Tests.Imaging;

public class ImageGridTests
{
    static readonly Rgb Red = new(255, 0, 0);

    static IReadOnlyList<IReadOnlyList<RgbImage>> Cells(int rows, int columns, int size) =>
        Enumerable.Range(0, rows)
            .Select(_ => (IReadOnlyList<RgbImage>)Enumerable.Range(0, columns).Select(_ => new RgbImage(size, size, Red)).ToList())
            .ToList();

    [Fact]
    public void Compose_WithoutLabels_HasCellsPlusPaddingSize()
    {
        var grid = ImageGrid.Compose(Cells(2, 3, 8), padding: 2);

        Assert.Equal(3 * 8 + 4 * 2, grid.Width);
        Assert.Equal(2 * 8 + 3 * 2, grid.Height);
        Assert.Equal(Rgb.White, grid.GetPixel(0, 0));
        Assert.Equal(Red, grid.GetPixel(2, 2));           // first cell starts after the padding
        Assert.Equal(Rgb.White, grid.GetPixel(10, 2));    // gap between columns
        Assert.Equal(Red, grid.GetPixel(12, 12));         // second row, second column
    }

    [Fact]
    public void Compose_WithLabels_AddsLabelBandsAndDrawsText()
    {
        var plain = ImageGrid.Compose(Cells(2, 2, 32), padding: 4);

        var labelled = ImageGrid.Compose(Cells(2, 2, 32), ["η = 0.0", "η = 1.0"], ["seed 1", "a rather long row label"], padding: 4);

        Assert.True(labelled.Width > plain.Width);
        Assert.True(labelled.Height > plain.Height);
        // Some label pixel is dark, unless the machine has no font at all (then the bands stay blank).
        int dark = 0;
        for (int i = 0; i < labelled.Pixels.Length; i += 3)
            if (labelled.Pixels[i] < 100 && labelled.Pixels[i + 1] < 100 && labelled.Pixels[i + 2] < 100) dark++;
        using var typeface = SKTypeface.FromFamilyName("sans-serif");
        if ((typeface ?? SKTypeface.Default).GlyphCount > 0)
            Assert.True(dark > 0, "no label text was drawn");
    }

    [Fact]
    public void Compose_RaggedRowsAndMixedSizes_CentresEachImageInItsCell()
    {
        IReadOnlyList<IReadOnlyList<RgbImage>> rows = [[new RgbImage(10, 10, Red), new RgbImage(4, 4, Red)], [new RgbImage(6, 6, Red)]];

        var grid = ImageGrid.Compose(rows, padding: 0);

        Assert.Equal((20, 20), (grid.Width, grid.Height));
        Assert.Equal(Rgb.White, grid.GetPixel(12, 2));   // 4x4 image sits at (13..16, 3..6)
        Assert.Equal(Red, grid.GetPixel(13, 3));
        Assert.Equal(Rgb.White, grid.GetPixel(15, 15));  // empty cell of the short row
    }

    [Fact]
    public void Compose_LabelCountMismatch_IsRejected()
    {
        Assert.Throws<ArgumentException>(() => ImageGrid.Compose(Cells(1, 2, 4), ["only one"]));
    }
}
