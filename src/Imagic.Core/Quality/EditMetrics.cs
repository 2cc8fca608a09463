using Imagic.World;

namespace Imagic.Quality;

/// <summary>How one edited image scores against its <see cref="EditCase"/>.</summary>
/// <param name="EditSuccess">The detector reads every edited attribute with its target value, and finds no more objects than the target scene has.</param>
/// <param name="EditedFraction">The fraction of edited attributes that have their target value (1 or 0 for one-attribute edits).</param>
/// <param name="PreservedFraction">The fraction of the attributes that should not change that did not change.</param>
/// <param name="AllPreserved">Every attribute that should not change is unchanged.</param>
/// <param name="Changed">The names of the attributes that should have been kept but were not (see <see cref="EditMetrics.Measure"/>).</param>
/// <param name="Psnr">PSNR in dB against the ground-truth edited image, capped at <see cref="EditMetrics.MaxPsnr"/> for identical images.</param>
/// <param name="Ssim">SSIM against the ground-truth edited image (1 = identical).</param>
/// <param name="InputDistance">1 − SSIM against the input image: how far the output moved from the input (the paper's 1 − LPIPS axis, as a distance).</param>
/// <param name="InputMae">Mean absolute difference from the input image over all pixels and channels, in [0, 1].</param>
public sealed record EditScore(bool EditSuccess, double EditedFraction, double PreservedFraction, bool AllPreserved,
    IReadOnlyList<string> Changed, double Psnr, double Ssim, double InputDistance, double InputMae)
{
    /// <summary>The edit is right and nothing else changed: the benchmark's strictest score.</summary>
    public bool SuccessAndPreserved => EditSuccess && AllPreserved;
}

/// <summary>
/// The benchmark's metrics: detector-judged edit success and preservation, pixel fidelity (PSNR, SSIM)
/// against the ground-truth edit, and distance from the input.
/// </summary>
/// <remarks>
/// Kawar et al. (CVPR 2023, §4.3) measure editability with CLIP score and fidelity to the input with
/// 1 − LPIPS. The shapes world has exact ground truth, so both become sharper: editability is whether the
/// world's <see cref="SceneDetector"/> reads the target values, and fidelity is measured against the
/// true edited image. The input distance is kept as the analogue of the paper's LPIPS axis.
/// </remarks>
public static class EditMetrics
{
    /// <summary>PSNR reported for identical images, in dB: 100, above any non-zero 8-bit difference at these sizes.</summary>
    public const double MaxPsnr = 100;

    /// <summary>SSIM window side: 11 pixels (Wang et al. 2004).</summary>
    public const int SsimWindow = 11;

    /// <summary>SSIM Gaussian window σ: 1.5 pixels (Wang et al. 2004).</summary>
    public const double SsimSigma = 1.5;

    /// <summary>The attribute names a preservation check reports, e.g. <c>shape</c>, <c>background</c>, <c>second.color</c>, <c>object count</c>.</summary>
    public static string Name(SceneAttribute attribute) => attribute.ToString().ToLowerInvariant();

    /// <summary>
    /// Scores <paramref name="output"/> for <paramref name="editCase"/>. The output is read by
    /// <see cref="SceneDetector"/> and matched to the target scene (<see cref="DetectionMatch.Compare"/>).
    /// The edit succeeds when every edited attribute has its target value and the image holds no extra
    /// object (a duplicated or cluttered output is not an edit, even if one object is right).
    /// Preservation checks, each named in <see cref="EditScore.Changed"/> when it fails: every primary-object
    /// attribute that is not edited, the background unless edited, all five attributes of the second object
    /// (<c>second.shape</c>, …; a missing second object fails all five), and the object count (an extra
    /// or lost object).
    /// </summary>
    /// <param name="input">The input image, for the input distance.</param>
    /// <param name="groundTruth">The ground-truth edited image, for PSNR and SSIM.</param>
    public static EditScore Measure(EditCase editCase, SceneImage output, SceneImage input, SceneImage groundTruth)
    {
        var detection = SceneDetector.Detect(output);
        var match = DetectionMatch.Compare(editCase.Target, detection);
        var edited = editCase.EditedAttributes;
        int editedRight = edited.Count(a => match[a]);
        // The matching picks whichever detected object fits best, so an image strewn with blobs would
        // usually hold one with the target values; such clutter is not an edit.
        bool noExtraObjects = detection.Objects.Count <= editCase.Target.Objects.Count;

        var checks = new List<(string Name, bool Kept)>();
        foreach (var attribute in Enum.GetValues<SceneAttribute>())
            if (!edited.Contains(attribute))
                checks.Add((Name(attribute), match[attribute]));
        if (match.Secondary is { } second)
            foreach (var attribute in Enum.GetValues<SceneAttribute>().Where(a => a != SceneAttribute.Background))
                checks.Add(("second." + Name(attribute), second.Found && second[attribute]));
        checks.Add(("object count", match.ObjectCount));

        var changed = checks.Where(c => !c.Kept).Select(c => c.Name).ToArray();
        return new EditScore(
            EditSuccess: editedRight == edited.Count && noExtraObjects,
            EditedFraction: editedRight / (double)edited.Count,
            PreservedFraction: (checks.Count - changed.Length) / (double)checks.Count,
            AllPreserved: changed.Length == 0,
            Changed: changed,
            Psnr: Psnr(output, groundTruth),
            Ssim: Ssim(output, groundTruth),
            InputDistance: 1 - Ssim(output, input),
            InputMae: MeanAbsoluteDifference(output, input));
    }

    /// <summary>Peak signal-to-noise ratio for a peak of 1: 10·log₁₀(1 / MSE) over all pixels and channels, capped at <see cref="MaxPsnr"/>.</summary>
    public static double Psnr(SceneImage a, SceneImage b)
    {
        CheckSameSize(a, b);
        double sum = 0;
        for (int i = 0; i < a.Chw.Length; i++)
        {
            double d = a.Chw[i] - b.Chw[i];
            sum += d * d;
        }
        double mse = sum / a.Chw.Length;
        return mse == 0 ? MaxPsnr : Math.Min(MaxPsnr, 10 * Math.Log10(1 / mse));
    }

    /// <summary>Mean absolute difference over all pixels and channels.</summary>
    public static double MeanAbsoluteDifference(SceneImage a, SceneImage b)
    {
        CheckSameSize(a, b);
        double sum = 0;
        for (int i = 0; i < a.Chw.Length; i++)
            sum += Math.Abs(a.Chw[i] - b.Chw[i]);
        return sum / a.Chw.Length;
    }

    /// <summary>
    /// Structural similarity of two RGB images in [0, 1]: the mean SSIM map of each channel, averaged over
    /// the three channels. Standard settings: an 11×11 Gaussian window with σ = 1.5, K₁ = 0.01, K₂ = 0.03,
    /// data range L = 1, population (not sample) statistics, and only the windows that lie wholly inside the
    /// image (MATLAB's <c>filter2(…, 'valid')</c>). Images must be at least 11 pixels wide.
    /// </summary>
    /// <remarks>
    /// Wang, Bovik, Sheikh and Simoncelli, "Image Quality Assessment: From Error Visibility to Structural
    /// Similarity", IEEE TIP 2004, eq. (13) and §III-C. Equals scikit-image's
    /// <c>structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    /// data_range=1, channel_axis=0)</c>, which crops the same border.
    /// </remarks>
    public static double Ssim(SceneImage a, SceneImage b)
    {
        CheckSameSize(a, b);
        int n = a.Size;
        if (n < SsimWindow)
            throw new ArgumentException($"SSIM needs images of at least {SsimWindow}×{SsimWindow} pixels, got {n}×{n}.", nameof(a));
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var window = GaussianWindow();
        int plane = n * n, m = n - SsimWindow + 1;
        double total = 0;
        var x = new double[plane];
        var y = new double[plane];
        var product = new double[plane];
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < plane; i++)
            {
                x[i] = a.Chw[c * plane + i];
                y[i] = b.Chw[c * plane + i];
            }
            var muX = Filter(x, n, window);
            var muY = Filter(y, n, window);
            for (int i = 0; i < plane; i++) product[i] = x[i] * x[i];
            var xx = Filter(product, n, window);
            for (int i = 0; i < plane; i++) product[i] = y[i] * y[i];
            var yy = Filter(product, n, window);
            for (int i = 0; i < plane; i++) product[i] = x[i] * y[i];
            var xy = Filter(product, n, window);
            double sum = 0;
            for (int i = 0; i < m * m; i++)
            {
                double mx = muX[i], my = muY[i];
                double varX = xx[i] - mx * mx, varY = yy[i] - my * my, cov = xy[i] - mx * my;
                sum += (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (varX + varY + c2));
            }
            total += sum / (m * m);
        }
        return total / 3;
    }

    static double[] GaussianWindow()
    {
        var w = new double[SsimWindow];
        int r = SsimWindow / 2;
        for (int i = 0; i < SsimWindow; i++)
            w[i] = Math.Exp(-((i - r) * (i - r)) / (2 * SsimSigma * SsimSigma));
        double sum = w.Sum();
        for (int i = 0; i < SsimWindow; i++) w[i] /= sum;
        return w;
    }

    /// <summary>The separable window's weighted mean at every fully inside position: an (n − 10)² map, row-major.</summary>
    static double[] Filter(double[] image, int n, double[] w)
    {
        int k = w.Length, m = n - k + 1;
        var rows = new double[n * m]; // horizontal pass: n rows × m columns
        for (int yy = 0; yy < n; yy++)
            for (int xx = 0; xx < m; xx++)
            {
                double s = 0;
                for (int j = 0; j < k; j++) s += w[j] * image[yy * n + xx + j];
                rows[yy * m + xx] = s;
            }
        var result = new double[m * m];
        for (int yy = 0; yy < m; yy++)
            for (int xx = 0; xx < m; xx++)
            {
                double s = 0;
                for (int j = 0; j < k; j++) s += w[j] * rows[(yy + j) * m + xx];
                result[yy * m + xx] = s;
            }
        return result;
    }

    static void CheckSameSize(SceneImage a, SceneImage b)
    {
        if (a.Size != b.Size)
            throw new ArgumentException($"Cannot compare a {a.Size}×{a.Size} image with a {b.Size}×{b.Size} one.", nameof(b));
    }
}
