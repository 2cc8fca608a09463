using System.Globalization;
using Imagic.Imaging;
using Imagic.Pipelines;
using static TorchSharp.torch;

namespace Imagic.Editing;

/// <summary>
/// The best any η can give back: the input decoded from its own latents z₀, before any training. Stages A and B fit the
/// denoiser to z₀, so at η = 0 Imagic returns at most this image; when the model's VAE cannot represent the input (a
/// drawing unlike anything it was trained on, small text, an image for another model), no setting of Imagic can keep the
/// photo, and the user is told before hours of training rather than after.
/// </summary>
/// <param name="RoundTrip">decode(z₀), as 8-bit pixels.</param>
/// <param name="Psnr">PSNR of <paramref name="RoundTrip"/> to the input in dB (<see cref="ImageDistance.Psnr"/>).</param>
public sealed record VaeCeiling(RgbImage RoundTrip, double Psnr)
{
    /// <summary>
    /// Below this PSNR the round trip visibly changes the input. Measured on the bundled shapes model: its own scenes come
    /// back at 30–42 dB, the rustdoc book icon and a 32 px Ferris at 15 dB (the book turns green). Stable Diffusion's VAE is
    /// reported at 23.4 ± 3.8 dB on 256 px COCO photos (the sd-vae-ft-mse model card), so 18 dB is about 1.4 standard
    /// deviations below the mean: photos it visibly changes, which the user should know about.
    /// </summary>
    public const double WarnBelowDb = 18;

    /// <summary>Decodes <paramref name="latents"/> (z₀ of <paramref name="input"/>) and measures how close it comes.</summary>
    public static VaeCeiling Measure(StableDiffusionPipeline pipe, Tensor latents, RgbImage input)
    {
        using var scope = NewDisposeScope();
        var roundTrip = ImageTensors.ToImage(pipe.DecodeLatents(latents));
        return new VaeCeiling(roundTrip, ImageDistance.Psnr(roundTrip, input));
    }

    /// <summary>A one-line warning when a round trip at <paramref name="psnr"/> dB cannot give the input back, or null when it can.</summary>
    /// <param name="roundTripFile">Where the round trip image is, named in the warning.</param>
    public static string? Warning(double psnr, string roundTripFile) => psnr >= WarnBelowDb ? null :
        $"the model's VAE gives this input back at only {psnr.ToString("F1", CultureInfo.InvariantCulture)} dB PSNR " +
        $"(see {roundTripFile}), so even η = 0 cannot return the photo: the model was not trained on images like it. " +
        "Imagic can keep no more of the input than that image shows; use a model made for such images (a Stable Diffusion " +
        "checkpoint for photos; the bundled model knows only its shapes world).";
}
