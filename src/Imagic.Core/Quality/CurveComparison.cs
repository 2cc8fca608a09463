namespace Imagic.Quality;

/// <summary>One point of a method's trade-off curve: a fidelity (x, higher is better) and an edit-success rate (y).</summary>
public readonly record struct CurvePoint(double Fidelity, double Success);

/// <summary>One case at one setting: its fidelity and whether its edit succeeded (the curve averages these over cases).</summary>
public readonly record struct CasePoint(double Fidelity, bool Success);

/// <summary>
/// How one method's trade-off curve compares with a baseline's, read the way the paper reads its
/// Fig. 7: at equal fidelity, which method makes more edits?
/// </summary>
/// <remarks>
/// Each curve is turned into its frontier F(x) = the best success among its points with fidelity ≥ x
/// ("how many edits can I get if I insist on at least this fidelity"), a non-increasing step function.
/// The two frontiers are compared over the fidelities both can reach, from the lowest point of either
/// curve up to the less faithful of the two most faithful points; beyond that one method has no
/// setting at all. Averages are over fidelity, not over sweep points, so a method is not rewarded for
/// having more settings.
/// </remarks>
/// <param name="From">Lowest fidelity compared.</param>
/// <param name="To">Highest fidelity compared (the less faithful method's best fidelity).</param>
/// <param name="MeanGain">Mean of F_method − F_baseline over [From, To], in success-rate units (0.1 = 10 points).</param>
/// <param name="MaxGain">Largest gain anywhere in the range.</param>
/// <param name="MaxLoss">Largest shortfall anywhere in the range (≥ 0; 0 when the method is never below).</param>
/// <param name="AboveShare">Share of the range where the method is strictly above the baseline.</param>
/// <param name="BelowShare">Share of the range where the method is strictly below the baseline.</param>
public sealed record CurveComparison(double From, double To, double MeanGain, double MaxGain, double MaxLoss,
    double AboveShare, double BelowShare)
{
    /// <summary>The method is nowhere below the baseline and somewhere above it.</summary>
    public bool Dominates => BelowShare == 0 && AboveShare > 0;

    /// <summary>Compares <paramref name="method"/>'s curve with <paramref name="baseline"/>'s; null if either has no points.</summary>
    public static CurveComparison? Compare(IReadOnlyCollection<CurvePoint> method, IReadOnlyCollection<CurvePoint> baseline)
    {
        if (method.Count == 0 || baseline.Count == 0) return null;
        double from = Math.Min(method.Min(p => p.Fidelity), baseline.Min(p => p.Fidelity));
        double to = Math.Min(method.Max(p => p.Fidelity), baseline.Max(p => p.Fidelity));

        // Both frontiers are constant between consecutive point fidelities, so one probe per interval is exact.
        var edges = method.Concat(baseline).Select(p => p.Fidelity).Where(x => x > from && x < to)
            .Append(from).Append(to).Distinct().Order().ToArray();
        if (edges.Length == 1)
        {
            // Both methods reach one single fidelity: compare the frontiers there.
            double gain = Frontier(method, to) - Frontier(baseline, to);
            return new CurveComparison(from, to, gain, Math.Max(gain, 0), Math.Max(-gain, 0), gain > 0 ? 1 : 0, gain < 0 ? 1 : 0);
        }
        double width = to - from, sum = 0, above = 0, below = 0, maxGain = 0, maxLoss = 0;
        for (int i = 0; i + 1 < edges.Length; i++)
        {
            // F is "fidelity ≥ x", so on (a, b] it takes its value at b.
            double a = edges[i], b = edges[i + 1], gain = Frontier(method, b) - Frontier(baseline, b);
            sum += gain * (b - a);
            if (gain > 0) above += b - a;
            if (gain < 0) below += b - a;
            maxGain = Math.Max(maxGain, gain);
            maxLoss = Math.Max(maxLoss, -gain);
        }
        return new CurveComparison(from, to, sum / width, maxGain, maxLoss, above / width, below / width);
    }

    /// <summary>
    /// A paired bootstrap of <see cref="MeanGain"/> over cases: the curves are rebuilt from <paramref name="resamples"/>
    /// draws of the cases with replacement, the same draw for both methods (they were run on the same cases, inputs
    /// and noise, so their differences are paired), and the 2.5th and 97.5th percentiles of the gains are returned with
    /// the share of draws in which the method is nowhere below (<see cref="BelowShare"/> = 0). An interval that
    /// straddles 0 means the suite cannot tell the two curves apart.
    /// </summary>
    /// <param name="method">Per case (first index) and setting (second): the case's fidelity and whether its edit succeeded.</param>
    /// <param name="baseline">The same for the baseline, over the same cases in the same order.</param>
    /// <param name="seed">The draws' seed: the interval is reproducible.</param>
    public static (double Low, double High, double NowhereBelow) BootstrapGain(
        CasePoint[][] method, CasePoint[][] baseline, int resamples = 2000, int seed = 0)
    {
        if (method.Length != baseline.Length || method.Length == 0)
            throw new ArgumentException($"Both methods need the same cases, got {method.Length} and {baseline.Length}.");
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "At least one resample.");
        var rng = new Random(seed);
        int n = method.Length;
        var draw = new int[n];
        var gains = new double[resamples];
        int nowhereBelow = 0;
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < n; i++) draw[i] = rng.Next(n);
            var c = Compare(Curve(method, draw), Curve(baseline, draw))!;
            gains[r] = c.MeanGain;
            if (c.BelowShare == 0) nowhereBelow++;
        }
        Array.Sort(gains);
        return (Percentile(gains, 0.025), Percentile(gains, 0.975), nowhereBelow / (double)resamples);
    }

    /// <summary>The curve of the drawn cases: per setting, the mean fidelity and the success rate.</summary>
    static CurvePoint[] Curve(CasePoint[][] cases, int[] draw)
    {
        int settings = cases[0].Length;
        var curve = new CurvePoint[settings];
        for (int k = 0; k < settings; k++)
        {
            double fidelity = 0, success = 0;
            foreach (int i in draw)
            {
                if (cases[i].Length != settings) throw new ArgumentException($"Case {i} has {cases[i].Length} settings, not {settings}.");
                fidelity += cases[i][k].Fidelity;
                success += cases[i][k].Success ? 1 : 0;
            }
            curve[k] = new CurvePoint(fidelity / draw.Length, success / draw.Length);
        }
        return curve;
    }

    /// <summary>Linear-interpolated percentile <paramref name="q"/> of sorted values.</summary>
    static double Percentile(double[] sorted, double q)
    {
        double at = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(at), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
    }

    /// <summary>The best success among the points at least as faithful as <paramref name="fidelity"/>.</summary>
    public static double Frontier(IEnumerable<CurvePoint> curve, double fidelity) =>
        curve.Where(p => p.Fidelity >= fidelity).Select(p => p.Success).DefaultIfEmpty(double.NaN).Max();
}
