using Imagic.Quality;
using Imagic.World;

namespace Imagic.Tests.Quality;

public class EditSuiteTests
{
    [Fact]
    public void Shapes_SameSeed_GivesSameCasesAndVersion()
    {
        var a = EditSuite.Shapes();
        var b = EditSuite.Shapes();

        Assert.Equal(EditSuite.ShapesVersion, a.Version);
        Assert.Equal("shapes-v1", b.Version);
        Assert.Equal(a.Cases.Select(c => c.Describe()), b.Cases.Select(c => c.Describe()));
        Assert.Equal(a.Cases, b.Cases);
        Assert.Equal(a.Fingerprint, b.Fingerprint);
    }

    [Fact]
    public void Shapes_DifferentSeed_GivesDifferentCases()
    {
        Assert.NotEqual(EditSuite.Shapes(seed: 1).Fingerprint, EditSuite.Shapes(seed: 2).Fingerprint);
    }

    /// <summary>
    /// Pins shapes-v1. If this fails, a change to the world or the generator altered the cases: results
    /// from before no longer compare, so bump <see cref="EditSuite.ShapesVersion"/> and update this value.
    /// </summary>
    [Fact]
    public void Shapes_Fingerprint_IsPinnedForThisVersion()
    {
        Assert.Equal("shapes-v1", EditSuite.ShapesVersion);
        Assert.Equal(PinnedFingerprint, EditSuite.Shapes().Fingerprint);
    }

    const string PinnedFingerprint = "6bab81e0e895a5b4";

    [Fact]
    public void Shard_SplitsTheCasesIntoDisjointShardsThatCoverTheSuite()
    {
        var suite = EditSuite.Shapes(casesPerCategory: 3);

        var shards = Enumerable.Range(1, 4).Select(k => suite.Shard(k, 4)).ToArray();

        var ids = shards.SelectMany(s => s.Cases.Select(c => c.Id)).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
        Assert.Equal(suite.Cases.Select(c => c.Id).Order(), ids.Order());
        Assert.Equal([suite.Cases[1].Id, suite.Cases[5].Id], shards[1].Cases.Take(2).Select(c => c.Id));
        Assert.All(shards, s => Assert.Equal(suite.Version, s.Version));
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(3, 2)]
    [InlineData(1, 0)]
    public void Shard_OutOfRange_FailsClearly(int index, int count)
    {
        var e = Assert.Throws<ImagicException>(() => EditSuite.Shapes(casesPerCategory: 1).Shard(index, count));
        Assert.Contains("K/N", e.Message);
    }

    [Fact]
    public void Only_KeepsTheNamedCasesInTheSuitesOrder()
    {
        var suite = EditSuite.Shapes(casesPerCategory: 3);
        string first = suite.Cases[2].Id, second = suite.Cases[9].Id;

        var only = suite.Only([second, first, first]);

        Assert.Equal([first, second], only.Cases.Select(c => c.Id));
        Assert.Equal(suite.Version, only.Version);
        Assert.Same(suite.Cases[9], only.Cases[1]);
    }

    [Fact]
    public void Only_UnknownOrNoId_FailsNamingIt()
    {
        var suite = EditSuite.Shapes(casesPerCategory: 1);

        var e = Assert.Throws<ImagicException>(() => suite.Only(["000-color", "999-nothing"]));
        Assert.Contains("999-nothing", e.Message);
        Assert.Contains(suite.Cases[0].Id, e.Message);
        Assert.Throws<ImagicException>(() => suite.Only([]));
    }

    [Fact]
    public void Shapes_HasAtLeast150Cases_BalancedOverEveryCategory()
    {
        var suite = EditSuite.Shapes();

        Assert.True(suite.Cases.Count >= 150, $"only {suite.Cases.Count} cases");
        var counts = suite.Cases.GroupBy(c => c.Category).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Enum.GetValues<EditCategory>().Order(), counts.Keys.Order());
        Assert.Single(counts.Values.Distinct());
        Assert.Equal(suite.Cases.Count, suite.Cases.Select(c => c.Id).Distinct().Count());
    }

    [Fact]
    public void Shapes_SmallerSuite_IsThePrefixOfTheFullOne()
    {
        var quick = EditSuite.Shapes(casesPerCategory: 2);
        var full = EditSuite.Shapes();

        Assert.Equal(full.Cases.Take(14), quick.Cases);
        Assert.Equal(quick.Fingerprint, full.Take(14).Fingerprint);
        Assert.Equal(2, full.Take(14).Cases.Count(c => c.Category == EditCategory.Pose));
    }

    [Fact]
    public void EveryCase_EditsWhatItsCategorySays_AndHasAValidTarget()
    {
        foreach (var c in EditSuite.Shapes().Cases)
        {
            Assert.True(c.Target.IsValid, c.Describe());
            Assert.NotEqual(c.Source, c.Target);
            Assert.NotEqual(Captioner.Canonical(c.Source), c.TargetText);
            if (c.Category == EditCategory.TwoAttributes)
                Assert.Equal(2, c.EditedAttributes.Distinct().Count());
            else
                Assert.Equal([EditSuite.AttributeOf(c.Category)], c.EditedAttributes);
            Assert.All(c.Edits, e => Assert.False(e.IsNoOp(c.Source)));
        }
    }

    [Fact]
    public void EveryCase_GroundTruthScoresAsAPerfectEdit_AndTheInputAsNoEdit()
    {
        // The metrics can only reward a method if the detector reads the true answer right.
        foreach (var c in EditSuite.Shapes().Cases)
        {
            var input = c.Input();
            var truth = c.GroundTruth();
            var perfect = EditMetrics.Measure(c, truth, input, truth);
            var unchanged = EditMetrics.Measure(c, input, input, truth);

            Assert.True(perfect.SuccessAndPreserved, $"{c.Describe()}: changed {string.Join(", ", perfect.Changed)}");
            Assert.False(unchanged.EditSuccess, c.Describe());
            Assert.True(unchanged.AllPreserved, c.Describe());
        }
    }

    [Fact]
    public void Named_AcceptsShapesAndItsVersion_RejectsOthers()
    {
        Assert.Equal(EditSuite.Named("shapes").Fingerprint, EditSuite.Named("shapes-v1").Fingerprint);
        Assert.Throws<ImagicException>(() => EditSuite.Named("photos"));
    }
}
