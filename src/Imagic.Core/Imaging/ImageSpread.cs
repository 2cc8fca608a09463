namespace Imagic.Imaging;

/// <summary>
/// How much an image's pixels vary: the largest of its three channels' standard deviations, in 8-bit levels. A failed
/// sample often comes out as one flat colour (black, grey or a tint); this is how the tools notice it instead of handing
/// it over silently.
/// </summary>
public static class ImageSpread
{
    /// <summary>
    /// Below this spread (in levels of 255) an image reads as one flat colour. Dithered or noisy flat fills stay under it;
    /// any drawn object of a few pixels lifts it above.
    /// </summary>
    public const double FlatBelow = 2.0;

    /// <summary>The largest per-channel standard deviation of <paramref name="image"/>'s pixels, in levels (0 for one colour).</summary>
    public static double Of(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var sum = new double[3];
        var squares = new double[3];
        var p = image.Pixels;
        for (int i = 0; i < p.Length; i += 3)
            for (int c = 0; c < 3; c++)
            {
                sum[c] += p[i + c];
                squares[c] += (double)p[i + c] * p[i + c];
            }
        double n = p.Length / 3;
        return Enumerable.Range(0, 3).Max(c => Math.Sqrt(Math.Max(0, squares[c] / n - sum[c] / n * (sum[c] / n))));
    }

    /// <summary>
    /// Whether <paramref name="output"/> is flat while <paramref name="input"/> is not: an edit that lost the whole picture.
    /// A flat input may give a flat output, so that is not flagged.
    /// </summary>
    public static bool LostThePicture(RgbImage output, RgbImage input) =>
        Of(output) < FlatBelow && Of(input) >= 4 * FlatBelow;
}
