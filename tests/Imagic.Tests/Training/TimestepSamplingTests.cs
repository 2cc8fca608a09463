using Imagic.Training;
using TorchSharp;

namespace Imagic.Tests.Training;

public class TimestepSamplingTests
{
    static long[] Draw(TimestepSampling sampling, ulong seed, int n = 20000)
    {
        using var g = new torch.Generator(seed, torch.CPU);
        return sampling.Draw(n, 1000, g).data<long>().ToArray();
    }

    [Fact]
    public void HighNoiseShare_MovesThatShareOfTheBatchToTheNoisyEnd()
    {
        var uniform = Draw(TimestepSampling.Uniform, 1);
        var mixed = Draw(new TimestepSampling(HighNoiseShare: 0.3, HighNoiseStart: 850), 1);
        var high = Draw(new TimestepSampling(HighNoiseShare: 1, HighNoiseStart: 850), 1);

        Assert.All(uniform.Concat(mixed), t => Assert.InRange(t, 0, 999));
        Assert.All(high, t => Assert.InRange(t, 850, 999));
        Assert.InRange(uniform.Count(t => t >= 850) / (double)uniform.Length, 0.14, 0.16);
        // 0.3 from the high range plus 0.7 × 0.15 of the uniform draws.
        Assert.InRange(mixed.Count(t => t >= 850) / (double)mixed.Length, 0.39, 0.42);
        Assert.True(mixed.Count(t => t < 100) > 0.05 * mixed.Length, "the low-noise end must still be trained");
    }

    [Fact]
    public void Draw_IsFixedByTheGenerator()
    {
        var sampling = new TimestepSampling(0.3, 850);
        Assert.Equal(Draw(sampling, 7, 64), Draw(sampling, 7, 64));
        Assert.NotEqual(Draw(sampling, 7, 64), Draw(sampling, 8, 64));
    }

    [Fact]
    public void HighNoiseStart_OutsideTheSchedulersTimesteps_IsAClearError()
    {
        using var g = new torch.Generator(1, torch.CPU);
        var error = Assert.Throws<ImagicException>(() => new TimestepSampling(0.3, 1000).Draw(4, 1000, g));
        Assert.Contains("0…999", error.Message);
        Assert.Equal(4, new TimestepSampling(0, 1000).Draw(4, 1000, g).shape[0]); // unused when the share is 0
    }
}
