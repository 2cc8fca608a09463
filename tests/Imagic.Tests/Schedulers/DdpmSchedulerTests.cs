using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Schedulers;

public class DdpmSchedulerTests
{
    static DdpmScheduler TinyScheduler() =>
        DdpmScheduler.FromFile(Path.Combine(TestPaths.TinySd1, "scheduler", "scheduler_config.json"));

    [Fact]
    public void AddNoise_ReferenceTimesteps_MatchesDiffusers()
    {
        using var scope = torch.NewDisposeScope();
        var x0 = Reference.Get("add_noise_x0");
        var eps = Reference.Get("add_noise_eps");
        var t = Reference.Get("add_noise_t");

        // One timestep per batch element: the coefficients broadcast over [B, C, H, W].
        var noisy = TinyScheduler().AddNoise(x0.expand(3, -1, -1, -1), eps.expand(3, -1, -1, -1), t);

        Reference.AssertClose(Reference.Get("add_noise_out"), noisy, 1e-5, "add_noise_out");
    }

    [Fact]
    public void AddNoise_SingleTimestep_MatchesEachReferenceRow()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = TinyScheduler();
        var t = Reference.Get("add_noise_t").data<long>().ToArray();

        for (int i = 0; i < t.Length; i++)
        {
            var noisy = scheduler.AddNoise(Reference.Get("add_noise_x0"), Reference.Get("add_noise_eps"), torch.tensor(new[] { t[i] }));

            Reference.AssertClose(Reference.Get("add_noise_out")[i..(i + 1)], noisy, 1e-5, $"add_noise_out[{i}]");
        }
    }

    [Fact]
    public void GetVelocity_IsRotationOfNoiseAndSample()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = TinyScheduler();
        var x0 = torch.randn(2, 4, 8, 8);
        var eps = torch.randn(2, 4, 8, 8);
        var t = torch.tensor(new long[] { 10, 900 });

        var xt = scheduler.AddNoise(x0, eps, t);
        var v = scheduler.GetVelocity(x0, eps, t);

        // With a = √ᾱ, b = √(1 − ᾱ), a² + b² = 1: x₀ = a·xₜ − b·v and ε = b·xₜ + a·v.
        var a = scheduler.AlphasCumprod.index_select(0, t).sqrt().view(-1, 1, 1, 1);
        var b = scheduler.AlphasCumprod.index_select(0, t).SubtractedFrom(1).sqrt().view(-1, 1, 1, 1);
        Reference.AssertClose(x0, a * xt - b * v, 1e-5, "x0 from v");
        Reference.AssertClose(eps, (b * xt).Plus(a * v), 1e-5, "eps from v");
    }

    [Fact]
    public void Target_PerPredictionType_IsNoiseVelocityOrSample()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = TinyScheduler();
        var x0 = torch.randn(1, 4, 8, 8);
        var eps = torch.randn(1, 4, 8, 8);
        var t = torch.tensor(new long[] { 500 });

        Assert.True(scheduler.Target(PredictionType.Epsilon, x0, eps, t).eq(eps).all().item<bool>());
        Assert.True(scheduler.Target(PredictionType.Sample, x0, eps, t).eq(x0).all().item<bool>());
        Reference.AssertClose(scheduler.GetVelocity(x0, eps, t), scheduler.Target(PredictionType.VPrediction, x0, eps, t), 0, "v target");
    }
}
