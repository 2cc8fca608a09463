namespace Imagic.Imaging;

/// <summary>How far apart two images of the same size are, pixel by pixel.</summary>
public static class ImageDistance
{
    /// <summary>The PSNR reported for identical images, where the ratio is infinite.</summary>
    public const double MaxPsnr = 100;

    /// <summary>
    /// Peak signal-to-noise ratio in dB for a peak of 255: 10·log₁₀(255² / MSE) over all pixels and channels, capped at
    /// <see cref="MaxPsnr"/>. Higher is closer; 8-bit rounding alone leaves about 59 dB, and below about 20 dB the
    /// difference is plain to see.
    /// </summary>
    public static double Psnr(RgbImage a, RgbImage b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Width != b.Width || a.Height != b.Height)
            throw new ArgumentException($"PSNR needs images of one size, got {a.Width}x{a.Height} and {b.Width}x{b.Height}.");
        double sum = 0;
        for (int i = 0; i < a.Pixels.Length; i++)
        {
            double d = a.Pixels[i] - b.Pixels[i];
            sum += d * d;
        }
        return PsnrOfMse(sum / a.Pixels.Length / (255.0 * 255.0));
    }

    /// <summary>PSNR in dB of a mean squared error on a peak of 1: 10·log₁₀(1 / MSE), capped at <see cref="MaxPsnr"/>.</summary>
    public static double PsnrOfMse(double mse) => mse == 0 ? MaxPsnr : Math.Min(MaxPsnr, 10 * Math.Log10(1 / mse));
}
