using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Schedulers;

public class DdimSchedulerTests
{
    static SchedulerConfig TinyConfig =>
        SchedulerConfig.FromFile(Path.Combine(TestPaths.TinySd1, "scheduler", "scheduler_config.json"));

    [Fact]
    public void SetTimesteps_Leading50_MatchesDiffusers()
    {
        var scheduler = new DdimScheduler(TinyConfig);

        scheduler.SetTimesteps(50);

        Assert.Equal(Reference.Get("ddim_timesteps_50").data<long>().ToArray(), scheduler.Timesteps);
        Assert.Equal(50, scheduler.NumInferenceSteps);
    }

    [Fact]
    public void SetTimesteps_Trailing10_EndsAtLastTrainingStep()
    {
        var scheduler = new DdimScheduler(TinyConfig with { TimestepSpacing = TimestepSpacing.Trailing });

        scheduler.SetTimesteps(10);

        Assert.Equal(new long[] { 999, 899, 799, 699, 599, 499, 399, 299, 199, 99 }, scheduler.Timesteps);
    }

    [Fact]
    public void SetTimesteps_Linspace7_RoundsHalvesToEvenLikeNumpy()
    {
        var scheduler = new DdimScheduler(TinyConfig with { TimestepSpacing = TimestepSpacing.Linspace });

        scheduler.SetTimesteps(7);

        // np.linspace(0, 999, 7) = 0, 166.5, 333, 499.5, 666, 832.5, 999; np.round takes halves to even.
        Assert.Equal(new long[] { 999, 832, 666, 500, 333, 166, 0 }, scheduler.Timesteps);
    }

    [Fact]
    public void SetTimesteps_MoreThanTrainingSteps_ThrowsImagicException()
    {
        var scheduler = new DdimScheduler(TinyConfig);

        Assert.Throws<ImagicException>(() => scheduler.SetTimesteps(1001));
        Assert.Throws<ImagicException>(() => scheduler.SetTimesteps(0));
    }

    [Fact]
    public void Step_ReferenceTimesteps_MatchesDiffusers()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = new DdimScheduler(TinyConfig);
        scheduler.SetTimesteps(50);
        var ts = Reference.Get("ddim_step_ts").data<long>().ToArray();

        for (int i = 0; i < ts.Length; i++)
        {
            var output = scheduler.Step(Reference.Get("ddim_step_model_out"), ts[i], Reference.Get("ddim_step_in"));

            Reference.AssertClose(Reference.Get("ddim_step_out")[i..(i + 1)], output.PrevSample, 1e-5, $"ddim_step_out[{i}] at t={ts[i]}");
        }
    }

    [Fact]
    public void Step_WithEtaZero_IsDeterministic()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = new DdimScheduler(TinyConfig);
        scheduler.SetTimesteps(10);
        var sample = torch.randn(1, 4, 8, 8);
        var modelOutput = torch.randn(1, 4, 8, 8);

        var first = scheduler.Step(modelOutput, 901, sample, eta: 0, generator: new Generator(1));
        var second = scheduler.Step(modelOutput, 901, sample, eta: 0, generator: new Generator(2));

        Assert.True(first.PrevSample.eq(second.PrevSample).all().item<bool>());
    }

    [Fact]
    public void Step_WithEta_AddsSigmaTimesNoise()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = new DdimScheduler(TinyConfig);
        scheduler.SetTimesteps(10);
        var sample = torch.randn(1, 4, 8, 8);
        var modelOutput = torch.randn(1, 4, 8, 8);
        var noise = torch.randn(1, 4, 8, 8);

        var deterministic = scheduler.Step(modelOutput, 501, sample, eta: 0);
        var stochastic = scheduler.Step(modelOutput, 501, sample, eta: 1, varianceNoise: noise);
        var seededA = scheduler.Step(modelOutput, 501, sample, eta: 1, generator: new Generator(7));
        var seededB = scheduler.Step(modelOutput, 501, sample, eta: 1, generator: new Generator(7));

        // σ = √((1 − ᾱ_prev) / (1 − ᾱ_t) · (1 − ᾱ_t / ᾱ_prev)) with prev = t − 100, eq. (16).
        var acp = scheduler.AlphasCumprod.data<float>().ToArray();
        double at = acp[501], ap = acp[401];
        double sigma = Math.Sqrt((1 - ap) / (1 - at) * (1 - at / ap));
        var x0 = (sample - modelOutput.Times(Math.Sqrt(1 - at))).Over(Math.Sqrt(at));
        var expected = x0.Times(Math.Sqrt(ap)).Plus(modelOutput.Times(Math.Sqrt(1 - ap - sigma * sigma))).Plus(noise.Times(sigma));
        Reference.AssertClose(expected, stochastic.PrevSample, 1e-5, "eta=1 step");
        Assert.False(deterministic.PrevSample.allclose(stochastic.PrevSample));
        Assert.True(seededA.PrevSample.eq(seededB.PrevSample).all().item<bool>());
    }

    [Fact]
    public void Step_VPredictionWithExactVelocity_RecoversOriginalSample()
    {
        using var scope = torch.NewDisposeScope();
        var config = TinyConfig with { PredictionType = PredictionType.VPrediction };
        var ddpm = new DdpmScheduler(config);
        var ddim = new DdimScheduler(config);
        ddim.SetTimesteps(50);
        var x0 = torch.randn(2, 4, 8, 8);
        var eps = torch.randn(2, 4, 8, 8);
        var t = torch.tensor(new long[] { 781, 781 });

        var output = ddim.Step(ddpm.GetVelocity(x0, eps, t), 781, ddpm.AddNoise(x0, eps, t));

        Reference.AssertClose(x0, output.PredOriginalSample, 1e-5, "pred_original_sample");
        // The step then lands exactly on the forward-process point at t − 20.
        Reference.AssertClose(ddpm.AddNoise(x0, eps, torch.tensor(new long[] { 761 })), output.PrevSample, 1e-5, "prev_sample");
    }

    [Fact]
    public void Step_SamplePredictionWithClipping_ClampsPredictedOriginal()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = new DdimScheduler(TinyConfig with { PredictionType = PredictionType.Sample, ClipSample = true, ClipSampleRange = 0.5 });
        scheduler.SetTimesteps(50);
        var modelOutput = torch.linspace(-2, 2, 16).view(1, 1, 4, 4);

        var output = scheduler.Step(modelOutput, 501, torch.zeros(1, 1, 4, 4));

        Reference.AssertClose(modelOutput.ClampTo(-0.5, 0.5), output.PredOriginalSample, 0, "clipped x0");
        Assert.False(ReferenceEquals(modelOutput, output.PredOriginalSample));
    }

    [Fact]
    public void Step_LastLeadingTimestep_UsesFinalAlphaCumprod()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = new DdimScheduler(TinyConfig with { SetAlphaToOne = true });
        scheduler.SetTimesteps(50);
        var sample = torch.randn(1, 4, 8, 8);
        var modelOutput = torch.randn(1, 4, 8, 8);

        // At t = 1 the previous step is negative; with set_alpha_to_one, x_{t−1} is the predicted x₀ itself.
        var output = scheduler.Step(modelOutput, 1, sample);

        Reference.AssertClose(output.PredOriginalSample, output.PrevSample, 1e-6, "final step");
    }

    [Fact]
    public void Step_BeforeSetTimesteps_Throws()
    {
        using var scope = torch.NewDisposeScope();
        var scheduler = new DdimScheduler(TinyConfig);

        Assert.Equal(1000, scheduler.Timesteps.Length);
        Assert.Throws<InvalidOperationException>(() => scheduler.Step(torch.zeros(1), 999, torch.zeros(1)));
    }

    [Fact]
    public void Constructor_ThresholdingRequested_ThrowsImagicException()
    {
        Assert.Throws<ImagicException>(() => new DdimScheduler(TinyConfig with { Thresholding = true }));
    }
}
