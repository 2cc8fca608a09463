using System.Globalization;
using System.Text;
using System.Text.Json;
using Imagic.IO;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using Imagic.Tokenization;
using Imagic.World;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Training;

/// <summary>
/// Trains the bundled text-to-image model from scratch on the shapes world, in two phases:
/// (1) a small KL autoencoder on rendered scenes, then (2) the UNet and the CLIP text encoder jointly on
/// the VAE's latents, with captions dropped 10% of the time for classifier-free guidance and an EMA of
/// the weights. Every step draws its scenes and noise from seeds derived from (seed, step), so a run
/// resumed from a checkpoint continues exactly where it stopped.
/// </summary>
public sealed class ShapesTrainer
{
    readonly string _workDir;
    readonly string _tokenizerDir;
    readonly TrainingOptions _options;
    readonly ShapesArchitecture _architecture;
    readonly int[] _defaultUNetChannels;
    readonly Device _device;

    /// <param name="architecture">The component configs; default <see cref="ShapesModelConfigs.For"/> the options' world.</param>
    /// <param name="device">Where training runs; default the CPU. Initial weights are drawn on the CPU, so they do not depend on it.</param>
    public ShapesTrainer(string workDir, string tokenizerDir, TrainingOptions options, ShapesArchitecture? architecture = null,
        Device? device = null)
    {
        _device = device ?? ComputeDevice.Cpu;
        options.Validate();
        _architecture = architecture ?? ShapesModelConfigs.For(options.World);
        _defaultUNetChannels = _architecture.UNet.BlockOutChannels;
        if (options.UNetChannels is { } channels)
        {
            int blocks = _architecture.UNet.BlockOutChannels.Length;
            if (channels.Count != blocks)
                throw new ImagicException($"--unet-channels needs {blocks} values, one per UNet block, got {channels.Count}.");
            int groups = _architecture.UNet.NormNumGroups;
            if (channels.Any(c => c % groups != 0))
                throw new ImagicException($"--unet-channels must be multiples of the UNet's {groups} GroupNorm groups, got {string.Join(",", channels)}.");
            _architecture = _architecture with { UNet = _architecture.UNet with { BlockOutChannels = channels.ToArray() } };
        }
        int expected = options.World == WorldVersion.V1 ? ShapesModelConfigs.ImageSize : ShapesModelConfigs.ImageSizeV2;
        if (_architecture.Vae.SampleSize != expected)
            throw new ImagicException($"World {options.World} is rendered at {expected} px, but the VAE's sample_size is {_architecture.Vae.SampleSize}.");
        if (options.VaeCrop < expected && options.VaeCrop % _architecture.Vae.DownsampleFactor != 0)
            throw new ImagicException($"--vae-crop must be a multiple of the VAE's downsampling factor {_architecture.Vae.DownsampleFactor}, got {options.VaeCrop}.");
        _workDir = Path.GetFullPath(workDir);
        _tokenizerDir = tokenizerDir;
        _options = options;
        if (ReadState() is { } existing) CheckResumable(existing);
        Directory.CreateDirectory(_workDir);
    }

    /// <summary>Where training is, as written in <c>state.json</c>.</summary>
    public sealed record State(string Phase, int Step, double ScalingFactor, TrainingOptions Options);

    string WorkFile(string name) => Path.Combine(_workDir, name);

    public State? ReadState() => ReadStateIn(_workDir);

    static State? ReadStateIn(string workDir)
    {
        var path = Path.Combine(workDir, "state.json");
        return File.Exists(path) ? JsonSerializer.Deserialize<State>(File.ReadAllText(path)) : null;
    }

    /// <summary>
    /// Refuses, in one line, to resume a work folder with options that change what its checkpoints are: another world
    /// or other UNet channels would fail only when the weights are loaded, or train on other data.
    /// </summary>
    void CheckResumable(State state)
    {
        if (state.Options.World != _options.World)
            throw new ImagicException($"{_workDir} holds a world-{Name(state.Options.World)} run; " +
                $"resume it with --world {Name(state.Options.World)}, or use a new --work folder.");
        IReadOnlyList<int> theirs = state.Options.UNetChannels ?? _defaultUNetChannels, ours = _options.UNetChannels ?? _defaultUNetChannels;
        if (!theirs.SequenceEqual(ours))
            throw new ImagicException($"{_workDir} was trained with UNet channels {string.Join(",", theirs)}, not {string.Join(",", ours)}; " +
                $"resume it with --unet-channels {string.Join(",", theirs)}, or use a new --work folder.");
    }

    /// <summary>
    /// Starts this (empty) work folder at phase 2 with the VAE of another run's work folder, whose VAE phase is done: an
    /// experiment on the UNet then skips the VAE phase (about 80 minutes in world v2). The VAE weights and the scaling factor are copied.
    /// </summary>
    public void StartFromVae(string otherWorkDir)
    {
        var theirs = CheckVaeSource(otherWorkDir, _workDir, _options.World);
        File.Copy(Path.Combine(otherWorkDir, "vae.safetensors"), WorkFile("vae.safetensors"), overwrite: true);
        WriteState(new State("unet", 0, theirs.ScalingFactor, _options));
    }

    /// <summary>
    /// What <see cref="StartFromVae"/> needs, checked before anything is written: <paramref name="workDir"/> holds no run yet,
    /// and <paramref name="otherWorkDir"/> holds a finished VAE phase of the same world. Returns that run's state.
    /// </summary>
    public static State CheckVaeSource(string otherWorkDir, string workDir, WorldVersion world)
    {
        if (ReadStateIn(workDir) is not null)
            throw new ImagicException($"{workDir} already holds a run; --vae-from needs a new --work folder.");
        var theirs = ReadStateIn(otherWorkDir) ?? throw new ImagicException($"{otherWorkDir} holds no training run (no state.json).");
        if (theirs.Phase != "unet")
            throw new ImagicException($"The VAE phase of {otherWorkDir} is not finished yet (at VAE step {theirs.Step}).");
        if (theirs.Options.World != world)
            throw new ImagicException($"{otherWorkDir} is a world-{Name(theirs.Options.World)} run, this one world {Name(world)}.");
        if (!File.Exists(Path.Combine(otherWorkDir, "vae.safetensors")))
            throw new ImagicException($"{otherWorkDir} has no vae.safetensors.");
        return theirs;
    }

    static string Name(WorldVersion world) => world.ToString().ToLowerInvariant();

    void WriteState(State state) =>
        AtomicFile.WriteAllText(WorkFile("state.json"), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>Runs (or resumes) both phases and returns the trained pipeline, with EMA weights.</summary>
    public StableDiffusionPipeline Train(IProgress<StepProgress>? progress = null, CancellationToken cancellation = default)
    {
        var state = ReadState() ?? new State("vae", 0, 1.0, _options);
        var vae = new AutoencoderKL(_architecture.Vae);
        DeterministicInit.Apply(vae, _options.Seed);
        vae.to(_device);
        if (state.Phase == "vae")
        {
            state = TrainVae(vae, state, progress, cancellation);
        }
        else
        {
            LoadInto(vae, "vae.safetensors");
        }
        var vaeConfig = vae.Config with { ScalingFactor = state.ScalingFactor };
        var trainedVae = new AutoencoderKL(vaeConfig);
        trainedVae.to(_device);
        using (torch.no_grad())
            foreach (var (name, p) in vae.named_parameters())
                trainedVae.get_parameter(name)!.copy_(p);
        vae.Dispose();
        return TrainTextToImage(trainedVae, state, progress, cancellation);
    }

    // ---- data -------------------------------------------------------------------------------------

    /// <summary>The batch of one step: scenes rendered to [-1, 1] and their captions (some dropped).</summary>
    (Tensor Images, List<string> Captions) Batch(int step, int phase)
    {
        long seed = unchecked(_options.Seed * 1_000_003 + phase * 100_000_007L + step);
        var sampler = new SceneSampler(seed, version: _options.World);
        var rng = new WorldRandom(~seed);
        int size = _architecture.Vae.SampleSize;
        var pixels = new float[_options.BatchSize * 3 * size * size];
        var captions = new List<string>(_options.BatchSize);
        for (int i = 0; i < _options.BatchSize; i++)
        {
            var scene = sampler.Next();
            SceneRenderer.Render(scene, size).Chw.CopyTo(pixels, i * 3 * size * size);
            captions.Add(Caption(scene, rng));
        }
        var images = torch.tensor(pixels, new long[] { _options.BatchSize, 3, size, size }, device: _device).Times(2).Minus(1);
        return (images, captions);
    }

    // Dropped (""), canonical or random; in world v2 a share of the random ones leave things out. The v1 draws are
    // exactly those of the models v1–v5, so their training data is unchanged.
    string Caption(Scene scene, WorldRandom rng)
    {
        if (rng.Chance(_options.CaptionDropout))
            return "";
        if (_options.World == WorldVersion.V1)
            return rng.Chance(_options.CanonicalCaptions) ? Captioner.Canonical(scene) : Captioner.Caption(scene, rng);
        double u = rng.NextDouble();
        return u < _options.CanonicalCaptions ? Captioner.Canonical(scene)
            : u < _options.CanonicalCaptions + _options.PartialCaptions ? Captioner.Partial(scene, rng)
            : Captioner.Caption(scene, rng);
    }

    Tensor RandomCrops(Tensor images, int step) => RandomCrops(images, _options.VaeCrop, _architecture.Vae.DownsampleFactor, _options.Seed, step);

    /// <summary>
    /// One random <paramref name="crop"/>-sized window of each image, drawn from (seed, step), at offsets that are
    /// multiples of <paramref name="factor"/> (the VAE's downsampling factor) so that the crop's latent grid is the whole
    /// image's; images no larger than the crop are returned as they are.
    /// </summary>
    internal static Tensor RandomCrops(Tensor images, int crop, int factor, long seed, int step)
    {
        int size = (int)images.shape[^1];
        if (crop >= size) return images;
        var rng = new WorldRandom(unchecked(seed * 31 + step) ^ 0x5DEECE66DL);
        int cells = (size - crop) / factor + 1;
        var crops = new Tensor[images.shape[0]];
        for (int i = 0; i < crops.Length; i++)
        {
            int y = rng.NextInt(cells) * factor, x = rng.NextInt(cells) * factor;
            crops[i] = images[i, .., y..(y + crop), x..(x + crop)];
        }
        return torch.stack(crops);
    }

    Generator StepGenerator(long seed, int phase, int step) =>
        new(unchecked((ulong)(seed * 7919 + phase * 1_000_000_007L + step) * 0x9E3779B97F4A7C15UL + 1), _device);

    // ---- phase 1: VAE -----------------------------------------------------------------------------

    State TrainVae(AutoencoderKL vae, State state, IProgress<StepProgress>? progress, CancellationToken cancellation)
    {
        vae.train();
        using var adam = new Adam(Named(vae), _options.VaeLearningRate);
        if (state.Step > 0)
        {
            LoadInto(vae, "vae.safetensors");
            adam.ImportState(SafeTensors.Load(WorkFile("vae_adam.safetensors")));
        }
        var losses = new List<string>();
        void Checkpoint(int done)
        {
            SaveModule(vae, "vae.safetensors");
            SafeTensors.Save(WorkFile("vae_adam.safetensors"), adam.ExportState());
            AppendLosses(losses);
            WriteState(state with { Step = done });
        }
        for (int step = state.Step; step < _options.VaeSteps; step++)
        {
            if (cancellation.IsCancellationRequested)
            {
                Checkpoint(step);
                cancellation.ThrowIfCancellationRequested();
            }
            using var scope = torch.NewDisposeScope();
            using var generator = StepGenerator(_options.Seed, 1, step);
            var images = RandomCrops(Batch(step, 1).Images, step);
            var posterior = vae.Encode(images);
            var reconstruction = vae.Decode(posterior.Sample(generator));
            var kl = posterior.Mean.Squared().Plus(posterior.LogVar.exp()).Minus(1).sub(posterior.LogVar).mean().Times(0.5);
            var loss = torch.nn.functional.mse_loss(reconstruction, images).Plus(kl.Times(_options.VaeKlWeight));
            adam.ZeroGrad();
            loss.backward();
            NonFinite.Check(loss, adam, "train VAE", step + 1);
            // Clipping and a decaying rate: without them a first run spiked from 0.01 to 0.27 at step 705.
            ClipGradients(Named(vae).ToList(), _options.GradientClip);
            adam.LearningRate = CosineDecay(_options.VaeLearningRate, step, 0, _options.VaeSteps);
            adam.Step();
            double value = loss.item<float>();
            losses.Add(string.Create(CultureInfo.InvariantCulture, $"vae,{step + 1},{value:R}"));
            progress?.Report(new StepProgress("train VAE", step + 1, _options.VaeSteps, value));
            if ((step + 1) % _options.CheckpointEvery == 0 || step + 1 == _options.VaeSteps)
                Checkpoint(step + 1);
        }
        vae.eval();
        double scaling = MeasureScalingFactor(vae);
        var next = new State("unet", 0, scaling, _options);
        WriteState(next);
        return next;
    }

    /// <summary>1 / std of the latents of <see cref="TrainingOptions.ScalingSamples"/> fresh scenes, as SD's 0.18215 was chosen.</summary>
    double MeasureScalingFactor(AutoencoderKL vae)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var latents = Enumerable.Range(0, Math.Max(1, _options.ScalingSamples / _options.BatchSize))
            .Select(i => vae.Encode(Batch(1_000_000 + i, 1).Images).Mean).ToArray();
        double std = torch.cat(latents).std().item<float>();
        return 1.0 / std;
    }

    // ---- phase 2: UNet + text encoder ---------------------------------------------------------------

    StableDiffusionPipeline TrainTextToImage(AutoencoderKL vae, State state, IProgress<StepProgress>? progress,
        CancellationToken cancellation)
    {
        var text = new ClipTextModel(_architecture.TextEncoder);
        var unet = new UNet2DConditionModel(_architecture.UNet);
        DeterministicInit.Apply(text, _options.Seed + 1, _options.TextEmbeddingInitStd);
        DeterministicInit.Apply(unet, _options.Seed + 2);
        text.to(_device);
        unet.to(_device);
        var scheduler = _architecture.Scheduler;
        var pipe = StableDiffusionPipeline.Create(_tokenizerDir, text, unet, vae, scheduler);
        var tokenizer = pipe.Tokenizer;
        var ddpm = new DdpmScheduler(scheduler);
        foreach (var p in vae.parameters()) p.requires_grad = false;
        vae.eval();

        var timesteps = new TimestepSampling(_options.HighNoiseShare, _options.HighNoiseStart);
        var trainable = Named(unet, "unet.").Concat(Named(text, "text_encoder.")).ToList();
        var ema = trainable.Select(p => (p.Name, Value: p.Param.detach().clone().DetachFromDisposeScope())).ToList();
        using var adam = new Adam(trainable, _options.LearningRate, weightDecay: _options.WeightDecay);
        if (state.Step > 0)
        {
            var saved = SafeTensors.Load(WorkFile("t2i.safetensors"));
            var savedEma = SafeTensors.Load(WorkFile("t2i_ema.safetensors"));
            using (torch.no_grad())
                for (int i = 0; i < trainable.Count; i++)
                {
                    trainable[i].Param.copy_(saved[trainable[i].Name]);
                    ema[i].Value.copy_(savedEma[trainable[i].Name]);
                }
            adam.ImportState(SafeTensors.Load(WorkFile("t2i_adam.safetensors")));
        }
        unet.train();
        text.train();
        var losses = new List<string>();
        void Checkpoint(int done)
        {
            SafeTensors.Save(WorkFile("t2i.safetensors"), trainable.Select(p => KeyValuePair.Create(p.Name, p.Param)));
            SafeTensors.Save(WorkFile("t2i_ema.safetensors"), ema.Select(p => KeyValuePair.Create(p.Name, p.Value)));
            SafeTensors.Save(WorkFile("t2i_adam.safetensors"), adam.ExportState());
            AppendLosses(losses);
            WriteState(state with { Phase = "unet", Step = done });
        }
        for (int step = state.Step; step < _options.Steps; step++)
        {
            if (cancellation.IsCancellationRequested)
            {
                Checkpoint(step);
                cancellation.ThrowIfCancellationRequested();
            }
            using var scope = torch.NewDisposeScope();
            using var generator = StepGenerator(_options.Seed, 2, step);
            var (images, captions) = Batch(step, 2);
            Tensor latents;
            using (torch.no_grad())
                latents = vae.Encode(images).Sample(generator).Times(vae.Config.ScalingFactor);
            var ids = tokenizer.EncodeBatch(captions, _device);
            var context = text.Forward(ids);
            var loss = DenoisingLoss.Compute(unet, ddpm, latents, context, generator, timesteps, _options.MinSnrGamma);
            adam.ZeroGrad();
            loss.backward();
            NonFinite.Check(loss, adam, "train UNet+text", step + 1);
            ClipGradients(trainable, _options.GradientClip);
            adam.LearningRate = CosineDecay(_options.LearningRate, step, _options.WarmupSteps, _options.Steps);
            adam.Step();
            UpdateEma(ema, trainable, Math.Min(_options.EmaDecay, (1.0 + step) / (10.0 + step)));
            double value = loss.item<float>();
            losses.Add(string.Create(CultureInfo.InvariantCulture, $"t2i,{step + 1},{value:R}"));
            progress?.Report(new StepProgress("train UNet+text", step + 1, _options.Steps, value));
            if ((step + 1) % _options.CheckpointEvery == 0 || step + 1 == _options.Steps)
                Checkpoint(step + 1);
        }
        // Export the averaged weights: they sample better than the last iterate.
        using (torch.no_grad())
            for (int i = 0; i < trainable.Count; i++)
                trainable[i].Param.copy_(ema[i].Value);
        foreach (var (_, value) in ema) value.Dispose();
        pipe.SetTrainable(false);
        return pipe;
    }

    /// <summary>Linear warm-up, then cosine decay to a tenth of the peak rate at the last step.</summary>
    static double CosineDecay(double peak, int step, int warmup, int total)
    {
        if (step < warmup) return peak * (step + 1.0) / warmup;
        double progress = Math.Clamp((step - warmup) / (double)Math.Max(1, total - warmup), 0, 1);
        return peak * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    static void ClipGradients(List<(string Name, Tensor Param)> parameters, double maxNorm)
    {
        using var scope = torch.NewDisposeScope();
        var grads = parameters.Select(p => p.Param.grad).Where(g => g is not null).Select(g => g!).ToList();
        var total = torch.stack(grads.Select(g => g.Squared().sum()).ToArray()).sum().sqrt().item<float>();
        if (total > maxNorm)
            using (torch.no_grad())
            using (var factor = (maxNorm / (total + 1e-6)).ToScalar())
                foreach (var g in grads) g.mul_(factor);
    }

    static void UpdateEma(List<(string Name, Tensor Value)> ema, List<(string Name, Tensor Param)> live, double decay)
    {
        using var _ = torch.no_grad();
        using var weight = torch.tensor(1 - decay, device: live[0].Param.device); // explicit and disposed, as in Adam.Step
        for (int i = 0; i < ema.Count; i++)
            ema[i].Value.lerp_(live[i].Param, weight);
    }

    // ---- files --------------------------------------------------------------------------------------

    static IEnumerable<(string Name, Tensor Param)> Named(nn.Module module, string prefix = "") =>
        module.named_parameters().Select(p => (prefix + p.name, (Tensor)p.parameter));

    void SaveModule(nn.Module module, string file) =>
        SafeTensors.Save(WorkFile(file), module.named_parameters().Select(p => KeyValuePair.Create(p.name, (Tensor)p.parameter)));

    void LoadInto(nn.Module module, string file)
    {
        using var weights = SafeTensorsFile.Open(WorkFile(file));
        StateDictLoader.Load(module, weights, null, null, file);
    }

    void AppendLosses(List<string> lines)
    {
        if (lines.Count == 0) return;
        var path = WorkFile("loss.csv");
        var sb = new StringBuilder();
        if (!File.Exists(path)) sb.Append("phase,step,loss\n");
        foreach (var l in lines) sb.Append(l).Append('\n');
        File.AppendAllText(path, sb.ToString());
        lines.Clear();
    }
}
