using System.Text.Json;
using System.Text.Json.Serialization;
using Imagic.Editing;
using Imagic.Imaging;
using Imagic.IO;
using Imagic.Pipelines;
using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Quality;

/// <summary>Which text the DDIM-inversion baseline inverts the input with.</summary>
public enum InversionPrompt
{
    /// <summary>The input's canonical caption, which the shapes world knows exactly (the default).</summary>
    SourceCaption,
    /// <summary>The empty prompt, as when nothing is known about the input.</summary>
    Empty,
}

/// <summary>
/// Everything that decides the benchmark's outputs besides the model and the suite. Every method uses the
/// same <see cref="SamplingSteps"/>, <see cref="GuidanceScale"/> (except where the inversion baseline sweeps
/// it) and the same per-case noise.
/// </summary>
public sealed record BenchSettings
{
    /// <summary>DDIM steps of every method's sampler (SDEdit runs the tail of the same schedule). Default 50.</summary>
    [JsonPropertyName("sampling_steps")] public int SamplingSteps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale of Imagic, SDEdit and text-to-image, against the empty prompt. Default 7.5.</summary>
    [JsonPropertyName("guidance_scale")] public double GuidanceScale { get; init; } = 7.5;

    /// <summary>Imagic's stage A and B settings; its seed, sampling steps and guidance are replaced per case. Default: the paper's.</summary>
    [JsonPropertyName("imagic")] public ImagicOptions Imagic { get; init; } = new();

    /// <summary>
    /// Imagic's interpolation weights η. Default 0 to 1.2 in steps of 0.1, of 0.05 from 0.6 to 1, and of 0.01 from 0.9
    /// to 0.95, where most edits arrive and its curve meets the baselines' (on the bundled model success rises from 77 to
    /// 86 % there): a frontier sampled at fewer points is a coarser staircase, and a comparison of two staircases turns on
    /// where each has its steps. Past 1, edits that start from the input's inversion arrive.
    /// </summary>
    [JsonPropertyName("etas")] public double[] Etas { get; init; } =
        [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 1.0, 1.1, 1.2];

    /// <summary>SDEdit's strengths: the fraction of the DDIM schedule that is re-run. Default 0.2 … 0.9 in steps of 0.1.</summary>
    [JsonPropertyName("strengths")] public double[] Strengths { get; init; } = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

    /// <summary>
    /// The guidance scales the inversion baseline samples the target text with. Default 1 to 3 in steps of 0.25, then
    /// 3.5, 4, 5 and 7.5: dense where its edits arrive and its curve meets Imagic's, as <see cref="Etas"/> is.
    /// </summary>
    [JsonPropertyName("inversion_guidance")] public double[] InversionGuidance { get; init; } =
        [1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3, 3.5, 4, 5, 7.5];

    /// <summary>The text the input is inverted with. Default <see cref="InversionPrompt.SourceCaption"/>.</summary>
    [JsonPropertyName("inversion_prompt")] public InversionPrompt InversionPrompt { get; init; } = InversionPrompt.SourceCaption;

    /// <summary>
    /// The settings for a model folder: sampling steps, guidance and stages A/B from its
    /// <c>imagic_defaults.json</c> (<see cref="ImagicOptions.ForModel"/>) or the named <paramref name="recipe"/>
    /// (<see cref="ImagicRecipes.Resolve"/>), the sweeps at their defaults.
    /// </summary>
    public static BenchSettings ForModel(string modelDir, string? recipe = null)
    {
        var imagic = ImagicRecipes.Resolve(modelDir, recipe);
        return new BenchSettings { SamplingSteps = imagic.SamplingSteps, GuidanceScale = imagic.GuidanceScale, Imagic = imagic };
    }

    /// <summary>Imagic's stage A and B steps under <see cref="Quick"/>, each at most: 200.</summary>
    public const int QuickMaxTrainingSteps = 200;

    /// <summary>
    /// The <c>--quick</c> variant: at most 20 sampling steps, SDEdit strengths 0.4, 0.6, 0.8, inversion
    /// guidance 1, 3 and the main guidance scale, and Imagic's stages A and B each capped at
    /// <see cref="QuickMaxTrainingSteps"/> steps (training is most of a case's time). Imagic keeps every η:
    /// its η points share one batched sampling run. Quick numbers preview the full run; they do not replace it.
    /// </summary>
    public BenchSettings Quick() => this with
    {
        SamplingSteps = Math.Min(SamplingSteps, 20),
        Strengths = [0.4, 0.6, 0.8],
        InversionGuidance = new[] { 1, 3, GuidanceScale }.Distinct().Order().ToArray(),
        Imagic = Imagic with
        {
            EmbeddingSteps = Math.Min(Imagic.EmbeddingSteps, QuickMaxTrainingSteps),
            FinetuneSteps = Math.Min(Imagic.FinetuneSteps, QuickMaxTrainingSteps),
        },
    };

    /// <summary>Checks ranges; throws <see cref="ImagicException"/> naming the bad value.</summary>
    public void Validate()
    {
        if (SamplingSteps < 1) throw new ImagicException($"Sampling steps must be ≥ 1, got {SamplingSteps}.");
        if (GuidanceScale < 1) throw new ImagicException($"The guidance scale must be ≥ 1, got {GuidanceScale}.");
        if (Etas.Length == 0 || Strengths.Length == 0 || InversionGuidance.Length == 0)
            throw new ImagicException("Every sweep (η, strength, inversion guidance) needs at least one value.");
        if (Strengths.Any(s => s is <= 0 or > 1)) throw new ImagicException("SDEdit strengths must be in (0, 1].");
        if (InversionGuidance.Any(g => g < 1)) throw new ImagicException("Inversion guidance scales must be ≥ 1.");
        Imagic.Validate();
    }

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

/// <summary>
/// Where the benchmark keeps one case's trained Imagic state (<c>imagic bench --keep-trained</c>), and the hash of
/// everything that state depends on: the model, the case and Imagic's stage A and B settings. A rerun that changes
/// only stage C (η list, guidance, sampling steps) reuses it instead of training again.
/// </summary>
public sealed record TrainedStateFile(string Path, string Key);

/// <summary>One point of a method's sweep and the image it made.</summary>
/// <param name="Value">The swept parameter's value (η, strength or guidance scale).</param>
public sealed record MethodOutput(double Value, RgbImage Image);

/// <summary>
/// An editing method under test: given an input image, its case and the case's noise, one output image
/// per point of the method's sweep. Every method runs in the same pipeline with the same sampler steps.
/// </summary>
public abstract class EditMethod : IDisposable
{
    /// <summary>Imagic, swept over η.</summary>
    public const string ImagicName = "imagic";
    /// <summary>SDEdit, swept over strength.</summary>
    public const string SdEditName = "sdedit";
    /// <summary>DDIM inversion then sampling with the target text, swept over guidance.</summary>
    public const string InversionName = "inversion";
    /// <summary>Plain text-to-image with the target text.</summary>
    public const string TextToImageName = "t2i";

    /// <summary>Every method, in report order.</summary>
    public static IReadOnlyList<string> AllNames { get; } = [ImagicName, SdEditName, InversionName, TextToImageName];

    private protected readonly StableDiffusionPipeline Pipe;
    private protected readonly BenchSettings Settings;
    private protected readonly Tensor Uncond;

    private protected EditMethod(StableDiffusionPipeline pipe, BenchSettings settings)
    {
        Pipe = pipe;
        Settings = settings;
        Uncond = pipe.EncodePrompt("").DetachFromDisposeScope();
    }

    /// <summary>The method's name in reports: <c>imagic</c>, <c>sdedit</c>, <c>inversion</c> or <c>t2i</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The swept parameter: <c>eta</c>, <c>strength</c> or <c>guidance</c>.</summary>
    public abstract string Parameter { get; }

    /// <summary>The sweep's values, one output each.</summary>
    public abstract IReadOnlyList<double> Points { get; }

    /// <summary>
    /// The settings this method's outputs depend on, as JSON: the benchmark's per-case cache is valid only
    /// while they stay the same. Changing another method's sweep does not invalidate this one's results.
    /// </summary>
    public string SettingsJson => JsonSerializer.Serialize(KeySettings, BenchSettings.Json);

    private protected abstract object KeySettings { get; }

    /// <summary>
    /// Edits one input. <paramref name="image"/> is [1, 3, H, W] in [-1, 1] at the model's resolution;
    /// <paramref name="noise"/> is the case's Gaussian noise in latent shape, the same for every method.
    /// Returns one output per <see cref="Points"/> value, in order.
    /// </summary>
    /// <param name="trained">Where Imagic keeps (and reuses) the case's trained state; other methods ignore it.</param>
    public abstract IReadOnlyList<MethodOutput> Edit(EditCase editCase, Tensor image, Tensor noise,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default, TrainedStateFile? trained = null);

    /// <summary>Creates the method called <paramref name="name"/> (see <see cref="AllNames"/>).</summary>
    public static EditMethod Create(string name, StableDiffusionPipeline pipe, BenchSettings settings) => name switch
    {
        ImagicName => new ImagicMethod(pipe, settings),
        SdEditName => new SdEditMethod(pipe, settings),
        InversionName => new InversionMethod(pipe, settings),
        TextToImageName => new TextToImageMethod(pipe, settings),
        _ => throw new ImagicException($"Unknown method '{name}'; choose from {string.Join(", ", AllNames)}."),
    };

    /// <summary>The case's noise: a standard normal latent [1, C, H/f, W/f] drawn from <see cref="EditCase.Seed"/>.</summary>
    public static Tensor CaseNoise(StableDiffusionPipeline pipe, EditCase editCase, int resolution)
    {
        pipe.CheckImageSize(resolution, resolution);
        int f = pipe.VaeScaleFactor;
        return InterpolationSampling.Noise([1, pipe.LatentChannels, resolution / f, resolution / f], editCase.Seed, pipe.Device);
    }

    private protected SamplingOptions Sampling(double guidance) =>
        new() { Steps = Settings.SamplingSteps, GuidanceScale = guidance, GuidanceRescale = Settings.Imagic.GuidanceRescale };

    /// <summary>Decodes a batch of latents into one 8-bit image per batch element.</summary>
    private protected IReadOnlyList<RgbImage> Decode(Tensor latents)
    {
        using var scope = torch.NewDisposeScope();
        var images = Pipe.DecodeLatents(latents);
        return Enumerable.Range(0, (int)images.shape[0]).Select(i => ImageTensors.ToImage(images[i])).ToArray();
    }

    public virtual void Dispose() => Uncond.Dispose();
}

/// <summary>
/// Imagic: stages A and B once per case (<see cref="ImagicEditor.Train"/>), then stage C at every η from the
/// case's noise, as one batch. The pretrained UNet weights are restored after every case, since stage B
/// fine-tunes them in place.
/// </summary>
/// <remarks>
/// This is exactly what <c>imagic edit --seed S</c> computes for a case of seed S: the same editor, and stage C from
/// the seed's noise (<see cref="InterpolationSampling.Noise"/>), which is also the case's noise that SDEdit and
/// text-to-image start from.
/// </remarks>
sealed class ImagicMethod : EditMethod
{
    readonly Dictionary<string, Tensor> _pretrained;

    public ImagicMethod(StableDiffusionPipeline pipe, BenchSettings settings) : base(pipe, settings)
    {
        _pretrained = pipe.UNet.named_parameters()
            .ToDictionary(p => p.name, p => p.parameter.detach().clone().DetachFromDisposeScope());
    }

    public override string Name => ImagicName;
    public override string Parameter => "eta";
    public override IReadOnlyList<double> Points => Settings.Etas;

    // The per-case seed is part of the case; the η list is Points; checkpoints do not change results.
    private protected override object KeySettings => new
    {
        Settings.SamplingSteps, Settings.GuidanceScale, Etas = Points,
        Imagic = Settings.Imagic with { Seed = 0, EtaSweep = [], CheckpointEvery = 1, SamplingSteps = 1, GuidanceScale = 1 },
    };

    public override IReadOnlyList<MethodOutput> Edit(EditCase editCase, Tensor image, Tensor noise,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default, TrainedStateFile? trained = null)
    {
        var options = Settings.Imagic with
        {
            Seed = editCase.Seed,
            SamplingSteps = Settings.SamplingSteps,
            GuidanceScale = Settings.GuidanceScale,
        };
        using var editor = new ImagicEditor(Pipe, options);
        try
        {
            using var session = editor.Start(image, editCase.TargetText);
            ReusedTraining = trained is not null && TryRestore(trained, session);
            if (!ReusedTraining)
            {
                editor.Train(session, progress, cancellation);
                if (trained is not null) Keep(trained, session);
            }
            using var scope = torch.NewDisposeScope();
            var images = editor.Sample(session, Points, editCase.Seed, cancellation: cancellation);
            return Points.Select((eta, i) => new MethodOutput(eta, ImageTensors.ToImage(images[i]))).ToArray();
        }
        finally
        {
            RestorePretrained();
        }
    }

    /// <summary>
    /// The settings the trained state (stages A and B) depends on, as JSON: <see cref="ImagicOptions.TrainingOnly"/>, which
    /// resets stage C's settings (so changing them reuses the state) and the seed (the per-case seed is part of the case).
    /// Values at their type's default are left out too, so that an option added later with an "off" default (0, false, the
    /// first enum value) keeps the states kept before it valid.
    /// </summary>
    public string TrainingSettingsJson => TrainingKey(Settings.Imagic);

    /// <summary><see cref="TrainingSettingsJson"/> for <paramref name="options"/>.</summary>
    internal static string TrainingKey(ImagicOptions options) => JsonSerializer.Serialize(options.TrainingOnly(), TrainingKeyJson);

    static readonly JsonSerializerOptions TrainingKeyJson = new(BenchSettings.Json)
    {
        WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
    };

    /// <summary>Writes e_opt and every fine-tuned UNet weight (fp32, exact), keyed by <see cref="TrainedStateFile.Key"/>.</summary>
    void Keep(TrainedStateFile trained, EditSession session)
    {
        var tensors = Pipe.UNet.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(UNetPrefix + p.name, p.parameter))
            .Append(new KeyValuePair<string, Tensor>(EOptKey, session.OptimizedEmbedding));
        SafeTensors.Save(trained.Path, tensors, new Dictionary<string, string> { [KeyMetadata] = trained.Key });
    }

    /// <summary>
    /// Loads a kept state into the session and the UNet if its key matches; false otherwise, with the session and the UNet
    /// as they were. A damaged file counts as no file: the case trains again and overwrites it.
    /// </summary>
    bool TryRestore(TrainedStateFile trained, EditSession session)
    {
        if (!File.Exists(trained.Path)) return false;
        Tensor? eOpt = null;
        try
        {
            using var file = SafeTensorsFile.Open(trained.Path);
            if (!file.Metadata.TryGetValue(KeyMetadata, out var key) || key != trained.Key) return false;
            eOpt = file.Read(EOptKey).to(Pipe.Device);
            using (torch.no_grad())
                StateDictLoader.Load(Pipe.UNet, file, (k, t) => (k.StartsWith(UNetPrefix, StringComparison.Ordinal) ? k[UNetPrefix.Length..] : k, t),
                    new HashSet<string> { EOptKey }, "kept Imagic state");
            session.OptimizedEmbedding.Dispose();
            session.OptimizedEmbedding = eOpt;
        }
        catch (ImagicException)
        {
            eOpt?.Dispose();
            RestorePretrained();
            return false;
        }
        session.Advance(EditStage.Done);
        return true;
    }

    const string UNetPrefix = "unet.", EOptKey = "e_opt", KeyMetadata = "imagic_training_key";

    /// <summary>Whether the last <see cref="Edit"/> sampled from a kept state instead of training.</summary>
    public bool ReusedTraining { get; private set; }

    void RestorePretrained()
    {
        using var _ = torch.no_grad();
        foreach (var (name, parameter) in Pipe.UNet.named_parameters())
            parameter.copy_(_pretrained[name]);
    }

    public override void Dispose()
    {
        foreach (var t in _pretrained.Values) t.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// SDEdit (Meng et al., ICLR 2022): noise the input's latents to the timestep a fraction <c>strength</c>
/// into the DDIM schedule, then run the rest of the schedule guided by the target text.
/// </summary>
/// <remarks>
/// The start follows diffusers' <c>StableDiffusionImg2ImgPipeline</c>: of N steps, the last
/// ⌊N·strength⌋ are run, starting from x_t = √ᾱ_t·z₀ + √(1 − ᾱ_t)·ε at their first timestep t, with ε the
/// case's noise and z₀ the VAE posterior mean of the input.
/// </remarks>
sealed class SdEditMethod(StableDiffusionPipeline pipe, BenchSettings settings) : EditMethod(pipe, settings)
{
    public override string Name => SdEditName;
    public override string Parameter => "strength";
    public override IReadOnlyList<double> Points => Settings.Strengths;
    private protected override object KeySettings => new { Settings.SamplingSteps, Settings.GuidanceScale, Strengths = Points };

    public override IReadOnlyList<MethodOutput> Edit(EditCase editCase, Tensor image, Tensor noise,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default, TrainedStateFile? trained = null)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var z0 = Pipe.EncodeImage(image);
        var cond = Pipe.EncodePrompt(editCase.TargetText);
        var ddpm = new DdpmScheduler(Pipe.SchedulerConfig);
        var outputs = new List<MethodOutput>();
        foreach (var strength in Points)
        {
            using var pointScope = torch.NewDisposeScope();
            var scheduler = new DdimScheduler(Pipe.SchedulerConfig);
            scheduler.SetTimesteps(Settings.SamplingSteps);
            var timesteps = scheduler.Timesteps;
            // int() truncation as diffusers does, so a strength means the same number of steps there and here.
            int run = Math.Min((int)(Settings.SamplingSteps * strength), Settings.SamplingSteps);
            var tail = timesteps[(timesteps.Length - run)..];
            Tensor? sampled = null; // owned here: Sample's result belongs to no dispose scope
            if (tail.Length > 0)
            {
                var noised = ddpm.AddNoise(z0, noise, torch.tensor(new[] { tail[0] }, device: Pipe.Device));
                sampled = Pipe.Sample(cond, Uncond, noised, Sampling(Settings.GuidanceScale), cancellation: cancellation,
                    skipSteps: timesteps.Length - run);
            }
            outputs.Add(new MethodOutput(strength, Decode(sampled ?? z0)[0]));
            sampled?.Dispose();
        }
        return outputs;
    }
}

/// <summary>
/// DDIM inversion (Song et al. 2020, §4.3; Dhariwal &amp; Nichol 2021): run the deterministic DDIM update
/// backwards from the input's latents to noise, then sample the target text from that noise with guided
/// DDIM at each guidance scale of the sweep. Guidance 1 with the inversion prompt would reconstruct the input.
/// </summary>
/// <remarks>
/// The inversion runs unguided (scale 1) with <see cref="BenchSettings.InversionPrompt"/>: by default the
/// input's canonical caption, as Prompt-to-Prompt and Null-text inversion (Mokady et al., CVPR 2023) invert
/// real images with their source caption. That is the baseline's best case: the shapes world knows the
/// true caption, which a user of Imagic would not have to write. Each step maps x_{t−Δ} to x_t with the
/// noise the model predicts at x_{t−Δ} for timestep t (the usual approximation ε(x_t) ≈ ε(x_{t−Δ})).
/// </remarks>
sealed class InversionMethod(StableDiffusionPipeline pipe, BenchSettings settings) : EditMethod(pipe, settings)
{
    public override string Name => InversionName;
    public override string Parameter => "guidance";
    public override IReadOnlyList<double> Points => Settings.InversionGuidance;
    private protected override object KeySettings => new { Settings.SamplingSteps, Settings.InversionPrompt, Guidance = Points };

    public override IReadOnlyList<MethodOutput> Edit(EditCase editCase, Tensor image, Tensor noise,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default, TrainedStateFile? trained = null)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var z0 = Pipe.EncodeImage(image);
        var inversionCond = Settings.InversionPrompt == InversionPrompt.SourceCaption
            ? Pipe.EncodePrompt(editCase.SourceText) : Uncond;
        using var zT = DdimInversion.Invert(Pipe, z0, inversionCond, Settings.SamplingSteps, cancellation);
        var cond = Pipe.EncodePrompt(editCase.TargetText);
        var outputs = new List<MethodOutput>();
        foreach (var guidance in Points)
        {
            using var pointScope = torch.NewDisposeScope();
            // Sample detaches its result from every dispose scope, hence the using.
            using var latents = Pipe.Sample(cond, Uncond, zT, Sampling(guidance), cancellation: cancellation);
            outputs.Add(new MethodOutput(guidance, Decode(latents)[0]));
        }
        return outputs;
    }
}

/// <summary>Plain text-to-image: the target text sampled from the case's noise; ignores the input. One point, at the main guidance scale.</summary>
sealed class TextToImageMethod(StableDiffusionPipeline pipe, BenchSettings settings) : EditMethod(pipe, settings)
{
    public override string Name => TextToImageName;
    public override string Parameter => "guidance";
    public override IReadOnlyList<double> Points => [Settings.GuidanceScale];
    private protected override object KeySettings => new { Settings.SamplingSteps, Settings.GuidanceScale };

    public override IReadOnlyList<MethodOutput> Edit(EditCase editCase, Tensor image, Tensor noise,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default, TrainedStateFile? trained = null)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var cond = Pipe.EncodePrompt(editCase.TargetText);
        using var latents = Pipe.Sample(cond, Uncond, noise, Sampling(Settings.GuidanceScale), cancellation: cancellation);
        return [new MethodOutput(Settings.GuidanceScale, Decode(latents)[0])];
    }
}
