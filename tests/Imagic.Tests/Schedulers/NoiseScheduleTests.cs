using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Schedulers;

public class NoiseScheduleTests
{
    static SchedulerConfig TinyConfig =>
        SchedulerConfig.FromFile(Path.Combine(TestPaths.TinySd1, "scheduler", "scheduler_config.json"));

    [Fact]
    public void AlphasCumprod_ScaledLinear_MatchesDiffusers()
    {
        using var scope = torch.NewDisposeScope();

        var alphasCumprod = NoiseSchedule.AlphasCumprod(TinyConfig);

        Assert.Equal(ScalarType.Float32, alphasCumprod.dtype);
        // Observed: 6e-8 (one float32 ulp near 1) from step 273 on, where the float32 cumprod orders its rounding differently.
        Reference.AssertClose(Reference.Get("alphas_cumprod"), alphasCumprod, 1e-6, "alphas_cumprod");
    }

    [Fact]
    public void Betas_Linear_AreEvenlySpacedFromStartToEnd()
    {
        using var scope = torch.NewDisposeScope();
        var config = new SchedulerConfig { BetaSchedule = BetaSchedule.Linear, NumTrainTimesteps = 5, BetaStart = 0.1, BetaEnd = 0.5 };

        var betas = NoiseSchedule.Betas(config);

        Reference.AssertClose(torch.tensor(new[] { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f }), betas, 1e-7, "linear betas");
    }

    [Fact]
    public void Betas_SquaredcosCapV2_FollowCosineAlphaBarAndCap()
    {
        using var scope = torch.NewDisposeScope();
        var config = new SchedulerConfig { BetaSchedule = BetaSchedule.SquaredcosCapV2 };

        var betas = NoiseSchedule.Betas(config).data<float>().ToArray();
        var alphasCumprod = NoiseSchedule.AlphasCumprod(config).data<float>().ToArray();

        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        Assert.Equal(1 - AlphaBar(0.001) / AlphaBar(0), betas[0], 1e-7);
        Assert.Equal(0.999f, betas[^1]);
        Assert.Equal(AlphaBar(0.5) / AlphaBar(0), alphasCumprod[499], 1e-5);
    }

    [Fact]
    public void AlphasCumprod_RescaledToZeroSnr_EndsAtZeroAndKeepsFirst()
    {
        using var scope = torch.NewDisposeScope();
        var plain = NoiseSchedule.AlphasCumprod(TinyConfig);

        var rescaled = NoiseSchedule.AlphasCumprod(TinyConfig with { RescaleBetasZeroSnr = true });

        Assert.Equal(0.0, rescaled[-1].item<float>(), 1e-12);
        Assert.Equal(plain[0].item<float>(), rescaled[0].item<float>(), 1e-6);
        Assert.True((rescaled[1..] <= rescaled[..^1]).all().item<bool>(), "ᾱ must not increase");
    }
}
