using Imagic.World;

namespace Imagic.Tests.World;

public class SceneSamplerTests
{
    [Fact]
    public void SameSeed_GivesSameScenes()
    {
        var first = new SceneSampler(11).Next(200);
        var second = new SceneSampler(11).Next(200);

        Assert.Equal(first, second);
    }

    [Fact]
    public void DifferentSeeds_GiveDifferentScenes()
    {
        var first = new SceneSampler(11).Next(50);
        var second = new SceneSampler(12).Next(50);

        Assert.NotEqual(first, second);
    }

    [Fact]
    public void SampledScenes_AreValid()
    {
        var scenes = new SceneSampler(5).Next(2000);

        Assert.All(scenes, s => Assert.Empty(s.Problems()));
    }

    [Fact]
    public void SecondObject_AppearsWithTheConfiguredProbability()
    {
        var scenes = new SceneSampler(5).Next(2000);

        double fraction = scenes.Count(s => s.Secondary is not null) / 2000.0;

        Assert.InRange(fraction, SceneSampler.DefaultSecondObjectProbability - 0.04, SceneSampler.DefaultSecondObjectProbability + 0.04);
    }

    [Fact]
    public void EveryAttributeValue_IsSampledRoughlyUniformly()
    {
        var primaries = new SceneSampler(6).Next(3000).Select(s => s.Primary).ToArray();

        AssertRoughlyUniform(primaries.Select(p => p.Shape));
        AssertRoughlyUniform(primaries.Select(p => p.Size));
        AssertRoughlyUniform(primaries.Select(p => p.Position));
        AssertRoughlyUniform(primaries.Select(p => p.Pose));
        Assert.Equal(Enum.GetValues<NamedColor>().Length, primaries.Select(p => p.Color).Distinct().Count());
    }

    static void AssertRoughlyUniform<T>(IEnumerable<T> values) where T : struct, Enum
    {
        var counts = values.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
        int total = counts.Values.Sum();
        var all = Enum.GetValues<T>();
        Assert.Equal(all.Length, counts.Count);
        foreach (var value in all)
            Assert.InRange(counts[value] / (double)total, 0.7 / all.Length, 1.3 / all.Length);
    }
}
