using System.Text.Json.Serialization;
using Imagic.World;
using Imagic.Imaging;

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

    /// <summary>
    /// World v2: PSNR in dB of the unedited region (<see cref="EditMetrics.UneditedRegion"/>) against the input;
    /// null in world v1 or when the region is empty.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? UneditedPsnr { get; init; }

    /// <summary>World v2: mean SSIM of the windows centred in the unedited region, against the input; null as <see cref="UneditedPsnr"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? UneditedSsim { get; init; }

    /// <summary>
    /// World v2: the unnamed detail kept on the objects the edit must not touch (<see cref="EditMetrics.DetailError"/>),
    /// output against ground truth; null when there is no such object or it is not found in either image.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DetailError? Detail { get; init; }
}

/// <summary>How far the unedited objects of an output drift from the ground truth in unnamed detail, averaged over those objects.</summary>
/// <param name="Position">Distance between the fitted centres, in pixels.</param>
/// <param name="Size">Relative difference of the fitted long half-extents, |h_out / h_truth − 1|.</param>
/// <param name="Shade">RGB distance between the shades (mean core colour minus palette colour).</param>
/// <param name="Objects">How many objects the means are over.</param>
public sealed record DetailError(double Position, double Size, double Shade, int Objects);

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
    public const double MaxPsnr = ImageDistance.MaxPsnr;

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
        var world = editCase.Source.Version;
        var detection = SceneDetector.Detect(output, world);
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
        var score = new EditScore(
            EditSuccess: editedRight == edited.Count && noExtraObjects,
            EditedFraction: editedRight / (double)edited.Count,
            PreservedFraction: (checks.Count - changed.Length) / (double)checks.Count,
            AllPreserved: changed.Length == 0,
            Changed: changed,
            Psnr: Psnr(output, groundTruth),
            Ssim: Ssim(output, groundTruth),
            InputDistance: 1 - Ssim(output, input),
            InputMae: MeanAbsoluteDifference(output, input));
        if (world == WorldVersion.V1)
            return score;
        var region = UneditedRegion(editCase, output.Size);
        return score with
        {
            UneditedPsnr = Psnr(output, input, region),
            UneditedSsim = Ssim(output, input, region),
            Detail = DetailError(editCase, match, DetectionMatch.Compare(editCase.Target, SceneDetector.Detect(groundTruth, world)), output.Size),
        };
    }

    /// <summary>
    /// The pixels of a <paramref name="size"/>-pixel render that the edit must leave as they are in the input (true).
    /// An edit of the primary object: everything outside the union of the primary's masks in the input and the ground
    /// truth (the PIE-Bench reading, with exact masks). An edit of the background: the pixels fully covered, in both, by an
    /// object the edit does not change, since every other pixel shows the new background.
    /// </summary>
    public static bool[] UneditedRegion(EditCase editCase, int size)
    {
        var edited = editCase.EditedAttributes;
        bool primaryEdited = edited.Any(a => a != SceneAttribute.Background);
        var region = new bool[size * size];
        if (!edited.Contains(SceneAttribute.Background))
        {
            var before = SceneRenderer.Coverage(editCase.Source.Primary, size);
            var after = SceneRenderer.Coverage(editCase.Target.Primary, size);
            for (int i = 0; i < region.Length; i++)
                region[i] = before[i] == 0 && after[i] == 0;
            return region;
        }
        var kept = new List<(SceneObject Before, SceneObject After)>();
        if (!primaryEdited)
            kept.Add((editCase.Source.Primary, editCase.Target.Primary));
        if (editCase.Source.Secondary is { } second)
            kept.Add((second, editCase.Target.Secondary!));
        foreach (var (before, after) in kept)
        {
            var a = SceneRenderer.Coverage(before, size);
            var b = SceneRenderer.Coverage(after, size);
            for (int i = 0; i < region.Length; i++)
                region[i] |= a[i] == 1 && b[i] == 1;
        }
        return region;
    }

    /// <summary>
    /// The unnamed-detail drift of the objects the edit must not touch (the second object; the primary too when
    /// only the background is edited): position, size and shade of each as the v2 detector reads them in the
    /// output (<paramref name="output"/>) and in the ground truth (<paramref name="truth"/>), averaged. Null when
    /// there is no such object or none is found in both images.
    /// </summary>
    public static DetailError? DetailError(EditCase editCase, DetectionMatch output, DetectionMatch truth, int size)
    {
        var pairs = new List<(DetectedObject Out, DetectedObject Truth)>();
        if (editCase.EditedAttributes.All(a => a == SceneAttribute.Background)
            && output.Primary.Detected is { } p && truth.Primary.Detected is { } tp)
            pairs.Add((p, tp));
        if (output.Secondary?.Detected is { } s && truth.Secondary?.Detected is { } ts)
            pairs.Add((s, ts));
        if (pairs.Count == 0)
            return null;
        return new DetailError(
            pairs.Average(x => Math.Sqrt(Math.Pow(x.Out.CenterX - x.Truth.CenterX, 2) + Math.Pow(x.Out.CenterY - x.Truth.CenterY, 2)) * size),
            pairs.Average(x => Math.Abs(x.Out.HalfExtent / x.Truth.HalfExtent - 1)),
            pairs.Average(x => (double)x.Out.Shade.DistanceTo(x.Truth.Shade)),
            pairs.Count);
    }

    /// <summary>PSNR (peak 1) over the pixels where <paramref name="region"/> is true, all three channels; null if the region is empty.</summary>
    public static double? Psnr(SceneImage a, SceneImage b, bool[] region)
    {
        CheckSameSize(a, b);
        int plane = a.Size * a.Size, count = 0;
        double sum = 0;
        for (int i = 0; i < plane; i++)
        {
            if (!region[i]) continue;
            count++;
            for (int c = 0; c < 3; c++)
            {
                double d = a.Chw[c * plane + i] - b.Chw[c * plane + i];
                sum += d * d;
            }
        }
        if (count == 0) return null;
        return ImageDistance.PsnrOfMse(sum / (3.0 * count));
    }

    /// <summary>
    /// SSIM of the region: both images are masked to <paramref name="region"/> (zero elsewhere, as PIE-Bench masks
    /// the edited region out), and the SSIM map of <see cref="Ssim(SceneImage, SceneImage)"/> is averaged over the
    /// windows whose centre lies in the region, so that the masked-out area does not count as agreement. Identical
    /// regions score exactly 1; null if no window is centred in the region.
    /// </summary>
    public static double? Ssim(SceneImage a, SceneImage b, bool[] region)
    {
        var map = SsimMap(Masked(a, region), Masked(b, region));
        int n = a.Size, m = n - SsimWindow + 1, r = SsimWindow / 2, count = 0;
        double sum = 0;
        for (int y = 0; y < m; y++)
            for (int x = 0; x < m; x++)
                if (region[(y + r) * n + x + r])
                {
                    sum += map[y * m + x];
                    count++;
                }
        return count == 0 ? null : sum / count;
    }

    static SceneImage Masked(SceneImage image, bool[] region)
    {
        int plane = image.Size * image.Size;
        var chw = new float[3 * plane];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < plane; i++)
                if (region[i])
                    chw[c * plane + i] = image.Chw[c * plane + i];
        return new SceneImage(image.Size, chw);
    }

    // The SSIM of every fully inside window, averaged over the channels: an (n − 10)² map, row-major.
    static double[] SsimMap(SceneImage a, SceneImage b)
    {
        CheckSameSize(a, b);
        int n = a.Size;
        if (n < SsimWindow)
            throw new ArgumentException($"SSIM needs images of at least {SsimWindow}×{SsimWindow} pixels, got {n}×{n}.", nameof(a));
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var window = GaussianWindow();
        int plane = n * n, m = n - SsimWindow + 1;
        var map = new double[m * m];
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
            for (int i = 0; i < m * m; i++)
            {
                double mx = muX[i], my = muY[i];
                double varX = xx[i] - mx * mx, varY = yy[i] - my * my, cov = xy[i] - mx * my;
                map[i] += (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (varX + varY + c2)) / 3;
            }
        }
        return map;
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
        return ImageDistance.PsnrOfMse(sum / a.Chw.Length);
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
    public static double Ssim(SceneImage a, SceneImage b) => SsimMap(a, b).Average();

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
