using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Schedulers;

/// <summary>The result of one <see cref="DdimScheduler.Step"/>.</summary>
/// <param name="PrevSample">x_{t−1}, the input of the next step.</param>
/// <param name="PredOriginalSample">The predicted x₀, useful for previews and guidance.</param>
public sealed record DdimStepOutput(Tensor PrevSample, Tensor PredOriginalSample);

/// <summary>
/// Denoising diffusion implicit models: a sampler over a subset of the training timesteps, deterministic when η = 0.
/// </summary>
/// <remarks>
/// Song et al. 2020, "Denoising Diffusion Implicit Models", eq. (12) and (16). Mirrors diffusers 0.21
/// <c>schedulers/scheduling_ddim.py</c>, including its choice of the previous timestep as t − N / steps for every
/// timestep spacing. The per-step scalars are float32, like diffusers' 0-dim tensors. The scheduler holds no native
/// tensors, so it needs no disposal.
/// </remarks>
public sealed class DdimScheduler
{
    readonly float[] _alphasCumprod;
    readonly float _finalAlphaCumprod;
    long[] _timesteps;

    /// <exception cref="ImagicException">The config is invalid or asks for dynamic thresholding, which is not implemented.</exception>
    public DdimScheduler(SchedulerConfig config)
    {
        if (config.Thresholding)
            throw new ImagicException("scheduler config: thresholding (dynamic thresholding) is not supported by this DDIM scheduler; set it to false");
        Config = config;
        _alphasCumprod = NoiseSchedule.AlphasCumprodValues(config);
        // Before the first step there is no ᾱ_{t−1}: either a clean image (1) or, as in SD, ᾱ of step 0.
        _finalAlphaCumprod = config.SetAlphaToOne ? 1f : _alphasCumprod[0];
        _timesteps = Enumerable.Range(0, config.NumTrainTimesteps).Reverse().Select(t => (long)t).ToArray();
    }

    /// <summary>Reads <c>scheduler_config.json</c> with <see cref="SchedulerConfig.FromFile"/>.</summary>
    public static DdimScheduler FromFile(string path) => new(SchedulerConfig.FromFile(path));

    public SchedulerConfig Config { get; }

    /// <summary>Standard deviation of the initial noise: 1.0 for DDIM.</summary>
    public double InitNoiseSigma => 1.0;

    /// <summary>Set by <see cref="SetTimesteps"/>; null before.</summary>
    public int? NumInferenceSteps { get; private set; }

    /// <summary>The timesteps to visit, descending: a copy. All training steps until <see cref="SetTimesteps"/> is called.</summary>
    public long[] Timesteps => (long[])_timesteps.Clone();

    /// <summary>ᾱ for every training step: a new float32 CPU tensor [NumTrainTimesteps], owned by the caller's dispose scope.</summary>
    public Tensor AlphasCumprod => torch.tensor(_alphasCumprod);

    /// <summary>DDIM needs no input scaling; returns <paramref name="sample"/> itself. Kept so that samplers are interchangeable.</summary>
    public Tensor ScaleModelInput(Tensor sample, long timestep) => sample;

    /// <summary>Chooses <paramref name="numInferenceSteps"/> timesteps according to <see cref="SchedulerConfig.TimestepSpacing"/>.</summary>
    /// <exception cref="ImagicException">The step count is not in [1, NumTrainTimesteps].</exception>
    public void SetTimesteps(int numInferenceSteps)
    {
        int n = Config.NumTrainTimesteps;
        if (numInferenceSteps < 1 || numInferenceSteps > n)
            throw new ImagicException($"The number of inference steps must be between 1 and {n} (the training steps), got {numInferenceSteps}");
        _timesteps = Config.TimestepSpacing switch
        {
            TimestepSpacing.Leading => LeadingTimesteps(n, numInferenceSteps, Config.StepsOffset),
            TimestepSpacing.Trailing => TrailingTimesteps(n, numInferenceSteps),
            TimestepSpacing.Linspace => LinspaceTimesteps(n, numInferenceSteps),
            _ => throw new ArgumentOutOfRangeException(nameof(Config.TimestepSpacing), Config.TimestepSpacing, null),
        };
        NumInferenceSteps = numInferenceSteps;
    }

    // np.arange(0, steps) * (N // steps), reversed, + steps_offset.
    static long[] LeadingTimesteps(int n, int steps, int offset)
    {
        int ratio = n / steps;
        return Enumerable.Range(0, steps).Reverse().Select(i => (long)i * ratio + offset).ToArray();
    }

    // np.round(np.arange(N, 0, -N / steps)) - 1, with numpy's arange length and fill arithmetic.
    static long[] TrailingTimesteps(int n, int steps)
    {
        double step = -(double)n / steps;
        int count = (int)Math.Ceiling((0 - n) / step);
        double delta = (n + step) - n; // numpy fills x[i] = x[0] + i * (x[1] - x[0])
        return Enumerable.Range(0, count).Select(i => (long)Math.Round(n + i * delta, MidpointRounding.ToEven) - 1).ToArray();
    }

    // np.linspace(0, N - 1, steps).round(), reversed; numpy rounds halves to even (999 / 6 * 3 = 499.5 -> 500).
    static long[] LinspaceTimesteps(int n, int steps)
    {
        var values = new double[steps];
        double step = steps > 1 ? (n - 1) / (double)(steps - 1) : 0;
        for (int i = 0; i < steps; i++) values[i] = i * step;
        if (steps > 1) values[^1] = n - 1;
        return values.Reverse().Select(v => (long)Math.Round(v, MidpointRounding.ToEven)).ToArray();
    }

    /// <summary>
    /// One reverse step: from the model output at <paramref name="timestep"/> and xₜ, computes x_{t−1} (eq. 12).
    /// </summary>
    /// <param name="modelOutput">The model's ε, v or x₀ prediction, per <see cref="SchedulerConfig.PredictionType"/>.</param>
    /// <param name="timestep">The current timestep, one of <see cref="Timesteps"/>.</param>
    /// <param name="sample">xₜ.</param>
    /// <param name="eta">η, the weight of fresh noise: 0 (default) is deterministic DDIM, 1 is DDPM-like ancestral sampling.</param>
    /// <param name="generator">Random source of the noise when η &gt; 0; default the global one.</param>
    /// <param name="varianceNoise">Explicit noise when η &gt; 0 (for example from a DDPM inversion), instead of <paramref name="generator"/>.</param>
    public DdimStepOutput Step(Tensor modelOutput, long timestep, Tensor sample, double eta = 0,
        Generator? generator = null, Tensor? varianceNoise = null)
    {
        if (NumInferenceSteps is not { } steps)
            throw new InvalidOperationException("Call SetTimesteps before Step.");
        if (timestep < 0 || timestep >= Config.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"must be in [0, {Config.NumTrainTimesteps})");
        if (eta < 0)
            throw new ArgumentOutOfRangeException(nameof(eta), eta, "must be ≥ 0");
        if (generator is not null && varianceNoise is not null)
            throw new ArgumentException("Pass either a generator or variance noise, not both.");
        using var scope = torch.NewDisposeScope();

        // 1. previous timestep (t − 1 in the paper's notation)
        long prevTimestep = timestep - Config.NumTrainTimesteps / steps;

        // 2. ᾱₜ, ᾱ_{t−1} and 1 − ᾱₜ
        float alphaProdT = _alphasCumprod[timestep];
        float alphaProdTPrev = prevTimestep >= 0 ? _alphasCumprod[prevTimestep] : _finalAlphaCumprod;
        float betaProdT = 1 - alphaProdT;

        // 3. "predicted x₀" of eq. (12), and the ε it implies
        Tensor predOriginal, predEpsilon;
        switch (Config.PredictionType)
        {
            case PredictionType.Epsilon:
                predOriginal = (sample - modelOutput.Times(MathF.Sqrt(betaProdT))).Over(MathF.Sqrt(alphaProdT));
                predEpsilon = modelOutput;
                break;
            case PredictionType.Sample:
                predOriginal = modelOutput.clone(); // the output record must not alias (or re-scope) the caller's tensor
                predEpsilon = (sample - predOriginal.Times(MathF.Sqrt(alphaProdT))).Over(MathF.Sqrt(betaProdT));
                break;
            case PredictionType.VPrediction:
                predOriginal = sample.Times(MathF.Sqrt(alphaProdT)) - modelOutput.Times(MathF.Sqrt(betaProdT));
                predEpsilon = modelOutput.Times(MathF.Sqrt(alphaProdT)).Plus(sample.Times(MathF.Sqrt(betaProdT)));
                break;
            default:
                throw new InvalidOperationException($"Unknown prediction type {Config.PredictionType}");
        }

        // 4. clip "predicted x₀" (the direction in 6. still uses the unclipped ε, as diffusers does by default)
        if (Config.ClipSample)
            predOriginal = predOriginal.ClampTo(-Config.ClipSampleRange, Config.ClipSampleRange);

        // 5. σₜ(η) of eq. (16): η · √((1 − ᾱ_{t−1}) / (1 − ᾱₜ)) · √(1 − ᾱₜ / ᾱ_{t−1})
        float variance = (1 - alphaProdTPrev) / betaProdT * (1 - alphaProdT / alphaProdTPrev);
        float stdDevT = (float)eta * MathF.Sqrt(variance);

        // 6. "direction pointing to xₜ" of eq. (12)
        var predSampleDirection = predEpsilon.Times(MathF.Sqrt(1 - alphaProdTPrev - stdDevT * stdDevT));

        // 7. x_{t−1} without the "random noise" of eq. (12)
        var prevSample = predOriginal.Times(MathF.Sqrt(alphaProdTPrev)).Plus(predSampleDirection);

        // 8. add σₜ · z when η > 0
        if (eta > 0)
        {
            varianceNoise ??= torch.randn(modelOutput.shape, dtype: modelOutput.dtype, device: modelOutput.device, generator: generator);
            prevSample = prevSample.Plus(varianceNoise.Times(stdDevT));
        }

        return new DdimStepOutput(prevSample.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }
}
