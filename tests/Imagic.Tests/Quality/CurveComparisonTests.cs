using Imagic.Quality;

namespace Imagic.Tests.Quality;

public class CurveComparisonTests
{
    static CurvePoint P(double fidelity, double success) => new(fidelity, success);

    [Fact]
    public void Compare_CurveEverywhereHigher_DominatesByTheExactAreaBetweenFrontiers()
    {
        // Frontiers on [0.2, 0.8]: method 0.9 on (0.2, 0.5], 0.6 on (0.5, 0.8]; baseline 0.5 on (0.2, 0.8].
        var method = new[] { P(0.8, 0.6), P(0.5, 0.9), P(0.2, 0.7) };
        var baseline = new[] { P(0.9, 0.1), P(0.8, 0.5), P(0.2, 0.3) };

        var c = CurveComparison.Compare(method, baseline)!;

        Assert.Equal(0.2, c.From, 12);
        Assert.Equal(0.8, c.To, 12);
        Assert.Equal((0.4 * 0.3 + 0.1 * 0.3) / 0.6, c.MeanGain, 12);
        Assert.Equal(0.4, c.MaxGain, 12);
        Assert.Equal(0, c.MaxLoss);
        Assert.Equal(1, c.AboveShare, 12);
        Assert.True(c.Dominates);
    }

    [Fact]
    public void Compare_CrossingCurves_ReportShareAboveAndBelowAndDoNotDominate()
    {
        // Frontiers: method 0.8 on (0, 0.5] and 0.1 on (0.5, 1]; baseline 0.3 on (0, 1] (its 0.4 needs fidelity ≤ 0).
        var method = new[] { P(0.5, 0.8), P(1.0, 0.1) };
        var baseline = new[] { P(0.0, 0.4), P(1.0, 0.3) };

        var c = CurveComparison.Compare(method, baseline)!;

        Assert.Equal(0.5, c.AboveShare, 12);
        Assert.Equal(0.5, c.BelowShare, 12);
        Assert.Equal(0.5, c.MaxGain, 12);
        Assert.Equal(0.2, c.MaxLoss, 12);
        Assert.Equal(0.5 * 0.5 - 0.5 * 0.2, c.MeanGain, 12);
        Assert.False(c.Dominates);
    }

    [Fact]
    public void Compare_IdenticalCurves_HaveZeroGainAndNeitherDominates()
    {
        var curve = new[] { P(0.3, 0.6), P(0.7, 0.2) };

        var c = CurveComparison.Compare(curve, curve)!;

        Assert.Equal(0, c.MeanGain);
        Assert.Equal(0, c.AboveShare);
        Assert.Equal(0, c.BelowShare);
        Assert.False(c.Dominates);
    }

    [Fact]
    public void Compare_OnlyOverTheFidelityBothReach_AndAgainstASinglePoint()
    {
        // A single-point baseline (t2i) at fidelity 0.4: the range both reach shrinks to that one fidelity,
        // where the method's frontier is 0.5 (its point at 0.9 is more faithful but only 0.2).
        var method = new[] { P(0.9, 0.2), P(0.4, 0.5) };
        var single = new[] { P(0.4, 0.3) };

        var c = CurveComparison.Compare(method, single)!;

        Assert.Equal(0.4, c.From, 12);
        Assert.Equal(0.4, c.To, 12);
        Assert.Equal(0.2, c.MeanGain, 12);
        Assert.True(c.Dominates);
        Assert.Null(CurveComparison.Compare(method, Array.Empty<CurvePoint>()));
    }

    /// <summary>Per case and setting: a method whose success at each of two fixed fidelities follows <paramref name="success"/>.</summary>
    static CasePoint[][] Cases(int n, Func<int, int, bool> success) =>
        [.. Enumerable.Range(0, n).Select(i => new[] { new CasePoint(0.9, success(i, 0)), new CasePoint(0.8, success(i, 1)) })];

    [Fact]
    public void BootstrapGain_SameCasesForBoth_IsExactlyZeroAndNeverBelow()
    {
        var cases = Cases(25, (i, k) => (i + k) % 3 == 0);

        var (low, high, nowhereBelow) = CurveComparison.BootstrapGain(cases, cases, resamples: 200);

        Assert.Equal((0.0, 0.0, 1.0), (low, high, nowhereBelow));
    }

    [Fact]
    public void BootstrapGain_MethodAheadInEveryCase_IntervalIsAboveZero_AndTheSeedReproducesIt()
    {
        // The method edits half the cases at the faithful setting and all at the other; the baseline none and two thirds.
        var method = Cases(30, (i, k) => k == 1 || i % 2 == 0);
        var baseline = Cases(30, (i, k) => k == 1 && i % 3 != 0);

        var first = CurveComparison.BootstrapGain(method, baseline, resamples: 300, seed: 4);
        var again = CurveComparison.BootstrapGain(method, baseline, resamples: 300, seed: 4);

        Assert.True(first.Low > 0, $"interval {first.Low}..{first.High}");
        Assert.True(first.High > first.Low);
        Assert.Equal(1.0, first.NowhereBelow);
        Assert.Equal(first, again);
        // The full sample's gain lies inside its interval.
        double full = CurveComparison.Compare(
            [new CurvePoint(0.9, 0.5), new CurvePoint(0.8, 1)], [new CurvePoint(0.9, 0), new CurvePoint(0.8, 20 / 30.0)])!.MeanGain;
        Assert.InRange(full, first.Low, first.High);
    }

    [Fact]
    public void BootstrapGain_DifferentCaseCounts_Throws()
    {
        Assert.Throws<ArgumentException>(() => CurveComparison.BootstrapGain(Cases(3, (_, _) => true), Cases(4, (_, _) => true)));
    }

    [Fact]
    public void GainInterval_FromCaseResults_PairsTheCases_AndSkipsAnAxisWithoutPerCaseFidelity()
    {
        static EditScore Score(bool success, double distance) => new(success, success ? 1 : 0, 1, true, [], 30, 0.9, distance, 0.01);
        static MethodCaseResult Result(string method, int i, bool success) => new(method, "x", $"{i:000}-color", EditCategory.Color, "k", 1,
            [new PointResult(0.5, "a.png", Score(success, 0.1)), new PointResult(1.0, "b.png", Score(true, 0.2))]);
        var results = Enumerable.Range(0, 12).SelectMany(i => new[] { Result("imagic", i, i % 2 == 0), Result("sdedit", i, i % 2 == 0) }).ToArray();

        Assert.Equal((0.0, 0.0, 1.0), BenchReport.GainInterval(results, "sdedit", BenchReport.FidelityAxes[0].Name));
        Assert.Null(BenchReport.GainInterval(results, "sdedit", BenchReport.UneditedAxis.Name));
        Assert.Null(BenchReport.GainInterval(results, "t2i", BenchReport.FidelityAxes[1].Name));
    }
}
