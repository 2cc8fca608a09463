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
}
