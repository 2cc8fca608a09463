using Imagic.IO;
using Imagic.Models;
using Imagic.Schedulers;
using Imagic.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Pipelines;

/// <summary>Options of text-to-image sampling; defaults follow diffusers' Stable Diffusion pipeline.</summary>
public sealed record SamplingOptions
{
    /// <summary>DDIM steps. Default 50.</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale; 1 disables guidance. Default 7.5.</summary>
    public double GuidanceScale { get; init; } = 7.5;

    /// <summary>
    /// Guidance rescale φ in [0, 1] (Lin et al., 2023): how far the guided output's scale is pulled back to the
    /// conditional output's; see <see cref="ClassifierFreeGuidance.Combine(Tensor, Tensor, double, double)"/>. Default 0 (plain guidance), as in diffusers.
    /// </summary>
    public double GuidanceRescale { get; init; }

    /// <summary>DDIM η: 0 is deterministic DDIM, 1 is DDPM-like. Default 0.</summary>
    public double Eta { get; init; }

    /// <summary>
    /// Checks every value before any work: steps in [1, <paramref name="maxSteps"/>], a finite guidance scale ≥ 0,
    /// a rescale in [0, 1] and a finite DDIM η ≥ 0. Throws an <see cref="ImagicException"/> naming the value.
    /// </summary>
    /// <param name="maxSteps">The scheduler's training timesteps, the most DDIM can visit. Default 1000 (SD's).</param>
    public void Validate(int maxSteps = 1000)
    {
        if (Steps < 1 || Steps > maxSteps)
            throw new ImagicException($"The sampling steps (--steps) must be between 1 and {maxSteps} (the model's training timesteps), got {Steps}.");
        if (!double.IsFinite(GuidanceScale) || GuidanceScale < 0)
            throw new ImagicException($"The guidance scale (--guidance) must be a finite number ≥ 0, got {GuidanceScale}.");
        ClassifierFreeGuidance.CheckRescale(GuidanceRescale);
        if (!double.IsFinite(Eta) || Eta < 0)
            throw new ImagicException($"DDIM's η must be a finite number ≥ 0, got {Eta}.");
    }
}

/// <summary>
/// A Stable Diffusion model loaded from a diffusers folder: tokenizer, text encoder, UNet, VAE
/// (absent for a pixel-space model) and scheduler config, with the building blocks every command uses:
/// encode a prompt, move between pixels and latents, and run the guided DDIM loop.
/// </summary>
/// <remarks>The loop follows diffusers' <c>StableDiffusionPipeline.__call__</c>.</remarks>
public sealed class StableDiffusionPipeline : IDisposable
{
    public string ModelDir { get; }
    public ClipTokenizer Tokenizer { get; }
    public ClipTextModel TextEncoder { get; }
    public UNet2DConditionModel UNet { get; }
    public AutoencoderKL? Vae { get; }
    public SchedulerConfig SchedulerConfig { get; private set; }

    /// <summary>The folder holding vocab.json, merges.txt and tokenizer_config.json.</summary>
    public string TokenizerDir { get; }

    /// <summary>Called with warnings the user should see (a truncated prompt).</summary>
    public Action<string> Warn { get; set; } = _ => { };

    StableDiffusionPipeline(string dir, string tokenizerDir, ClipTokenizer tokenizer, ClipTextModel textEncoder, UNet2DConditionModel unet,
        AutoencoderKL? vae, SchedulerConfig schedulerConfig)
    {
        ModelDir = dir;
        TokenizerDir = tokenizerDir;
        Tokenizer = tokenizer;
        TextEncoder = textEncoder;
        UNet = unet;
        Vae = vae;
        SchedulerConfig = schedulerConfig;
    }

    /// <summary>
    /// Loads every component strictly, as float32, from a diffusers folder or from a single-file checkpoint in the
    /// original LDM layout (<c>.safetensors</c>; see <see cref="SingleFileCheckpoint"/>), then moves it to
    /// <see cref="PipelineLoadOptions.Device"/> (default: the CPU).
    /// </summary>
    public static StableDiffusionPipeline Load(string path, PipelineLoadOptions? options = null)
    {
        options ??= new PipelineLoadOptions();
        var device = options.Device ?? ComputeDevice.Cpu;
        bool singleFile = SingleFileCheckpoint.IsSingleFile(path);
        if (!singleFile && options.ConfigDir is not null)
            throw new ImagicException($"--config describes a single-file checkpoint, but {path} is a model folder, which has its own configs; leave --config out.");
        var pipe = singleFile ? LoadSingleFile(path, options) : LoadFolder(path);
        if (options.PredictionType is PredictionType prediction)
            pipe.SchedulerConfig = pipe.SchedulerConfig with { PredictionType = prediction };
        pipe.CheckComponentsAgree();
        pipe.SetTrainable(false);
        pipe.MoveTo(device);
        return pipe;
    }

    static StableDiffusionPipeline LoadFolder(string dir)
    {
        var folder = ModelFolder.Open(dir);
        var tokenizer = ClipTokenizer.FromFolder(folder.TokenizerDir);

        var textEncoder = new ClipTextModel(ClipTextConfig.FromFile(Path.Combine(folder.TextEncoderDir, "config.json")));
        LoadWeights(folder, folder.TextEncoderDir, textEncoder, "text_encoder", null,
            new HashSet<string> { "text_model.embeddings.position_ids" });

        var unet = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(Path.Combine(folder.UNetDir, "config.json")));
        LoadWeights(folder, folder.UNetDir, unet, "unet", null, null);

        AutoencoderKL? vae = null;
        if (folder.VaeDir is string vaeDir)
        {
            vae = new AutoencoderKL(AutoencoderKLConfig.FromFile(Path.Combine(vaeDir, "config.json")));
            LoadWeights(folder, vaeDir, vae, "vae", LegacyKeys.RemapVae, null);
        }

        var scheduler = SchedulerConfig.FromFile(folder.SchedulerConfigPath);
        return new StableDiffusionPipeline(folder.Root, folder.TokenizerDir, tokenizer, textEncoder, unet, vae, scheduler);
    }

    static StableDiffusionPipeline LoadSingleFile(string path, PipelineLoadOptions options)
    {
        using var checkpoint = SingleFileCheckpoint.Open(path);
        SingleFileConfigs configs;
        string? tokenizerDir = options.TokenizerDir;
        if (options.ConfigDir is string configDir)
        {
            string Config(string component) => Path.Combine(configDir, component, "config.json");
            string schedulerPath = Path.Combine(configDir, "scheduler", "scheduler_config.json");
            var scheduler = File.Exists(schedulerPath) ? SchedulerConfig.FromFile(schedulerPath)
                : SingleFileCheckpoint.StandardScheduler(checkpoint.TextLayout == LdmTextLayout.OpenClip ? PredictionType.VPrediction : PredictionType.Epsilon);
            string ownTokenizer = Path.Combine(configDir, "tokenizer");
            bool hasTokenizer = Directory.Exists(ownTokenizer);
            if (hasTokenizer) tokenizerDir = ownTokenizer;
            configs = new SingleFileConfigs(ClipTextConfig.FromFile(Config("text_encoder")), UNet2DConditionConfig.FromFile(Config("unet")),
                AutoencoderKLConfig.FromFile(Config("vae")), scheduler,
                checkpoint.TextLayout == LdmTextLayout.OpenClip && !hasTokenizer ? "!" : null);
        }
        else
        {
            configs = checkpoint.InferConfigs(options.PredictionType);
        }
        if (tokenizerDir is null)
            throw new ImagicException($"{path} is a single-file checkpoint, which carries no tokenizer: give a folder with CLIP's vocab.json and merges.txt (the CLI uses the bundled model's).");
        var tokenizer = ClipTokenizer.FromFolder(tokenizerDir, configs.PadToken);

        var textEncoder = new ClipTextModel(configs.TextEncoder);
        var unet = new UNet2DConditionModel(configs.UNet);
        var vae = new AutoencoderKL(configs.Vae);
        try
        {
            checkpoint.LoadInto(textEncoder, unet, vae, options.UseEma);
        }
        catch
        {
            textEncoder.Dispose();
            unet.Dispose();
            vae.Dispose();
            throw;
        }
        return new StableDiffusionPipeline(Path.GetFullPath(path), tokenizerDir, tokenizer, textEncoder, unet, vae, configs.Scheduler);
    }

    /// <summary>Where the models run and new tensors are created: the CPU unless a device was chosen at load.</summary>
    public Device Device { get; private set; } = ComputeDevice.Cpu;

    void MoveTo(Device device)
    {
        Device = device;
        if (ComputeDevice.IsCpu(device)) return; // built there
        TextEncoder.to(device);
        UNet.to(device);
        Vae?.to(device);
    }

    /// <summary>Assembles a pipeline from freshly built components, e.g. to train one from scratch.</summary>
    public static StableDiffusionPipeline Create(string tokenizerDir, ClipTextModel textEncoder, UNet2DConditionModel unet,
        AutoencoderKL? vae, SchedulerConfig schedulerConfig)
    {
        var pipe = new StableDiffusionPipeline("(in memory)", tokenizerDir, ClipTokenizer.FromFolder(tokenizerDir),
            textEncoder, unet, vae, schedulerConfig);
        pipe.CheckComponentsAgree();
        pipe.Device = unet.parameters().First().device;
        return pipe;
    }

    /// <summary>
    /// Writes the pipeline as a diffusers folder (model_index.json, one subfolder per component, configs and
    /// safetensors weights) that <see cref="Load"/>, and diffusers itself, can read. Weights are stored in
    /// <paramref name="weightsType"/> (float16 halves the size; loading converts back to float32).
    /// </summary>
    public void Save(string dir, ScalarType weightsType = ScalarType.Float32)
    {
        Directory.CreateDirectory(dir);
        var index = new System.Text.Json.Nodes.JsonObject
        {
            ["_class_name"] = "StableDiffusionPipeline",
            ["_diffusers_version"] = "0.21.4",
            ["scheduler"] = new System.Text.Json.Nodes.JsonArray("diffusers", "DDIMScheduler"),
            ["text_encoder"] = new System.Text.Json.Nodes.JsonArray("transformers", "CLIPTextModel"),
            ["tokenizer"] = new System.Text.Json.Nodes.JsonArray("transformers", "CLIPTokenizer"),
            ["unet"] = new System.Text.Json.Nodes.JsonArray("diffusers", "UNet2DConditionModel"),
            ["vae"] = Vae is null ? new System.Text.Json.Nodes.JsonArray(null, null) : new System.Text.Json.Nodes.JsonArray("diffusers", "AutoencoderKL"),
        };
        var indent = new System.Text.Json.JsonSerializerOptions { WriteIndented = true };
        AtomicFile.WriteAllText(Path.Combine(dir, "model_index.json"), index.ToJsonString(indent));

        var tokDir = Path.Combine(dir, "tokenizer");
        Directory.CreateDirectory(tokDir);
        if (Path.GetFullPath(tokDir) != Path.GetFullPath(TokenizerDir))
            foreach (var file in Directory.EnumerateFiles(TokenizerDir))
            {
                var target = Path.Combine(tokDir, Path.GetFileName(file));
                File.Copy(file, target, overwrite: true);
                File.SetAttributes(target, FileAttributes.Normal); // the source may be read-only
            }
        WritePadToken(Path.Combine(tokDir, "tokenizer_config.json"));

        SaveComponent(Path.Combine(dir, "text_encoder"), "model.safetensors",
            ModelConfigJson.WithClassName(ModelConfigJson.Write(TextEncoder.Config), "CLIPTextModel", "architectures"), TextEncoder, weightsType);
        SaveComponent(Path.Combine(dir, "unet"), "diffusion_pytorch_model.safetensors",
            ModelConfigJson.WithClassName(ModelConfigJson.Write(UNet.Config), "UNet2DConditionModel"), UNet, weightsType);
        if (Vae is not null)
            SaveComponent(Path.Combine(dir, "vae"), "diffusion_pytorch_model.safetensors",
                ModelConfigJson.WithClassName(ModelConfigJson.Write(Vae.Config), "AutoencoderKL"), Vae, weightsType);
        var schedDir = Path.Combine(dir, "scheduler");
        Directory.CreateDirectory(schedDir);
        AtomicFile.WriteAllText(Path.Combine(schedDir, "scheduler_config.json"), SchedulerConfig.ToJson());
    }

    /// <summary>Records the tokenizer's padding token when it was overridden (SD 2.x from a single file pads with '!').</summary>
    void WritePadToken(string configPath)
    {
        var config = File.Exists(configPath)
            ? System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject()
            : new System.Text.Json.Nodes.JsonObject();
        if (config["pad_token"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var pad) && pad == Tokenizer.PadToken)
            return;
        config["pad_token"] = Tokenizer.PadToken;
        AtomicFile.WriteAllText(configPath, config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    static void SaveComponent(string dir, string weightsName, string configJson, nn.Module module, ScalarType weightsType)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, "config.json"), configJson);
        using var scope = torch.NewDisposeScope();
        var tensors = module.named_parameters()
            .Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach().to_type(weightsType)));
        SafeTensors.Save(Path.Combine(dir, weightsName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    static void LoadWeights(ModelFolder folder, string componentDir, nn.Module module, string name,
        Func<string, Tensor, (string, Tensor)>? remap, IReadOnlySet<string>? ignored)
    {
        using var file = SafeTensorsFile.Open(folder.WeightsFile(componentDir));
        StateDictLoader.Load(module, file, remap, ignored, name);
    }

    void CheckComponentsAgree()
    {
        int textWidth = TextEncoder.Config.HiddenSize;
        if (UNet.Config.CrossAttentionDim != textWidth)
            throw new ImagicException($"{ModelDir}: the UNet expects text embeddings of width {UNet.Config.CrossAttentionDim} but the text encoder produces {textWidth}.");
        int imageChannels = Vae?.Config.LatentChannels ?? 3;
        if (UNet.Config.InChannels != imageChannels)
            throw new ImagicException($"{ModelDir}: the UNet takes {UNet.Config.InChannels} input channels but the {(Vae is null ? "image" : "VAE latent")} has {imageChannels}.");
    }

    /// <summary>Freezes or unfreezes every weight; inference needs no gradients.</summary>
    public void SetTrainable(bool trainable)
    {
        foreach (var m in new nn.Module[] { TextEncoder, UNet })
            foreach (var p in m.parameters()) p.requires_grad = trainable;
        if (Vae is not null)
            foreach (var p in Vae.parameters()) p.requires_grad = trainable;
        TextEncoder.eval();
        UNet.eval();
        Vae?.eval();
    }

    /// <summary>Pixels per latent along each side: 8 for SD, 1 for a pixel-space model.</summary>
    public int VaeScaleFactor => Vae?.Config.DownsampleFactor ?? 1;

    /// <summary>The resolution the model was trained at (UNet sample_size × VAE factor).</summary>
    public int DefaultResolution => (UNet.Config.SampleSize ?? 64) * VaeScaleFactor;

    public int LatentChannels => UNet.Config.InChannels;

    /// <summary>Tokenizes and encodes one prompt → [1, 77, hidden]. Warns when the prompt was truncated.</summary>
    public Tensor EncodePrompt(string prompt) => EncodePrompts(new[] { prompt });

    /// <summary>Tokenizes and encodes several prompts at once → [N, 77, hidden]. Warns for each truncated prompt.</summary>
    public Tensor EncodePrompts(IReadOnlyList<string> prompts)
    {
        var tokens = prompts.Select(Tokenizer.Encode).ToList();
        for (int i = 0; i < prompts.Count; i++)
            if (tokens[i].Truncated)
                Warn($"The prompt is longer than {Tokenizer.MaxLength - 2} tokens and was truncated: \"{Shorten(prompts[i])}\"");
        using var _ = torch.no_grad();
        using var ids = Tokenizer.ToTensor(tokens, Device);
        return TextEncoder.Forward(ids);
    }

    static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";

    /// <summary>Checks that an image size suits the model; throws an <see cref="ImagicException"/> otherwise.</summary>
    public void CheckImageSize(int height, int width)
    {
        int f = VaeScaleFactor;
        if (height <= 0 || width <= 0 || height % f != 0 || width % f != 0)
            throw new ImagicException($"Image size {width}x{height} is not possible with this model: width and height must be positive multiples of {f}.");
    }

    /// <summary>Checks sampling options against this model (at most its scheduler's training timesteps); see <see cref="SamplingOptions.Validate"/>.</summary>
    public void CheckSamplingOptions(SamplingOptions options) => options.Validate(SchedulerConfig.NumTrainTimesteps);

    /// <summary>
    /// Checks initial latents given by the user: [1, C, H/f, W/f] for this model and finite. Returns the image size
    /// they imply, (height, width).
    /// </summary>
    /// <param name="source">Where the latents came from, for the message (a file path).</param>
    public (int Height, int Width) CheckInitialLatents(Tensor latents, string source)
    {
        int f = VaeScaleFactor;
        string shape = $"[{string.Join(", ", latents.shape)}]";
        if (latents.dim() != 4 || latents.shape[0] != 1 || latents.shape[1] != LatentChannels)
            throw new ImagicException($"{source}: latents must be [1, {LatentChannels}, H/{f}, W/{f}]; got {shape}.");
        if (!torch.is_floating_point(latents))
            throw new ImagicException($"{source}: latents must be floating point; got {latents.dtype}.");
        if (!Training.NonFinite.IsAllFinite(latents))
            throw new ImagicException($"{source}: the latents hold {Training.NonFinite.CountNonFinite(latents)} NaN or infinite value(s).");
        return (checked((int)latents.shape[2] * f), checked((int)latents.shape[3] * f));
    }

    /// <summary>
    /// Runs the VAE tile by tile on images larger than one tile (diffusers' <c>enable_vae_tiling</c>): memory bounded by the
    /// tile instead of the image, at the price of a result close to, not equal to, the untiled one. Default null: untiled.
    /// </summary>
    public VaeTiling? VaeTiling { get; set; }

    /// <summary>
    /// Runs the VAE on one image of a batch at a time (diffusers' <c>enable_vae_slicing</c>): the memory of one image for
    /// any batch. Default false: the whole batch at once.
    /// </summary>
    public bool VaeSlicing { get; set; }

    /// <summary>Image [B, 3, H, W] in [-1, 1] → scaled latents. Uses the posterior mean unless a generator is given.</summary>
    public Tensor EncodeImage(Tensor image, Generator? generator = null)
    {
        if (Vae is null) return image.clone();
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        NativeHeap.Trim(); // the VAE's large tensors cannot reuse the small blocks an earlier loop freed
        image = image.to(Device);
        var posteriors = Slices(image).Select(x => VaeTiling is null ? Vae.Encode(x) : VaeTiling.Encode(Vae, x)).ToList();
        var posterior = posteriors.Count == 1 ? posteriors[0]
            : new DiagonalGaussian(torch.cat(posteriors.Select(p => p.Mean).ToList()), torch.cat(posteriors.Select(p => p.LogVar).ToList()));
        var z = generator is null ? posterior.Mean : posterior.Sample(generator);
        Training.NonFinite.CheckOutput(z, "The VAE encoder", "the image or the VAE's weights are out of range (an fp16 VAE can overflow: load it in float32)");
        return z.Times(Vae.Config.ScalingFactor).MoveToOuterDisposeScope();
    }

    /// <summary>Scaled latents → image in about [-1, 1] (unclamped, as diffusers' <c>output_type="pt"</c> before post-processing).</summary>
    public Tensor DecodeLatents(Tensor latents)
    {
        if (Vae is null) return latents.clone();
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        NativeHeap.Trim(); // the VAE's large tensors cannot reuse the small blocks the sampling loop freed
        var images = new List<Tensor>();
        foreach (var slice in Slices(latents))
        {
            var scaled = slice.Over(Vae.Config.ScalingFactor);
            images.Add(scaled.ConsumedBy(z => VaeTiling is null ? Vae.Decode(z) : VaeTiling.Decode(Vae, z)));
        }
        var decoded = images.Count == 1 ? images[0] : torch.cat(images);
        Training.NonFinite.CheckOutput(decoded, "The VAE decoder", "the latents or the VAE's weights are out of range (an fp16 VAE can overflow: load it in float32)");
        return decoded.MoveToOuterDisposeScope();
    }

    /// <summary>The batch as one piece, or one image at a time with <see cref="VaeSlicing"/>.</summary>
    IEnumerable<Tensor> Slices(Tensor batch) =>
        VaeSlicing && batch.shape[0] > 1 ? Enumerable.Range(0, (int)batch.shape[0]).Select(i => batch.narrow(0, i, 1)) : [batch];

    /// <summary>Initial noise for an image of the given size, from <paramref name="generator"/>.</summary>
    public Tensor InitialNoise(int height, int width, Generator generator, int batch = 1)
    {
        CheckImageSize(height, width);
        int f = VaeScaleFactor;
        return torch.randn(new long[] { batch, LatentChannels, height / f, width / f }, device: Device, generator: generator);
    }

    /// <summary>
    /// Classifier-free guided model output: ε_uncond + s·(ε_cond − ε_uncond), optionally rescaled
    /// (<see cref="ClassifierFreeGuidance.Combine(Tensor, Tensor, double, double)"/>), evaluated as one batch of two like diffusers. With a scale
    /// of 1 only the conditional branch runs.
    /// </summary>
    public Tensor GuidedModelOutput(Tensor latents, long timestep, Tensor cond, Tensor uncond, double guidanceScale,
        double guidanceRescale = 0) =>
        GuidedModelOutput(latents, timestep, cond, uncond, Enumerable.Repeat(guidanceScale, (int)latents.shape[0]).ToArray(), guidanceRescale);

    /// <summary>
    /// <see cref="GuidedModelOutput(Tensor, long, Tensor, Tensor, double, double)"/> with one guidance scale per sample of
    /// the batch; only the conditional branch runs when every scale is 1.
    /// </summary>
    public Tensor GuidedModelOutput(Tensor latents, long timestep, Tensor cond, Tensor uncond, IReadOnlyList<double> guidanceScales,
        double guidanceRescale = 0)
    {
        using var scope = torch.NewDisposeScope();
        using var t = torch.tensor(timestep, device: latents.device);
        if (guidanceScales.All(s => s == 1.0))
            return UNet.Forward(latents, t, cond).MoveToOuterDisposeScope();
        if (uncond.shape[0] != cond.shape[0])
            uncond = uncond.expand(cond.shape[0], uncond.shape[1], uncond.shape[2]);
        var output = UNet.Forward(torch.cat(new[] { latents, latents }), t, torch.cat(new[] { uncond, cond }));
        var parts = output.chunk(2);
        return ClassifierFreeGuidance.Combine(parts[0], parts[1], guidanceScales, guidanceRescale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The DDIM sampling loop with classifier-free guidance, from <paramref name="initLatents"/>
    /// (scaled by the scheduler's initial sigma, 1 for DDIM) to clean latents.
    /// </summary>
    /// <param name="skipSteps">Start after this many of the schedule's timesteps: SDEdit-style editing passes
    /// latents already noised to the first remaining timestep. Default 0 (from pure noise).</param>
    /// <param name="guidanceScales">One guidance scale per sample of the batch instead of <see cref="SamplingOptions.GuidanceScale"/>
    /// (stage C's guidance ramp); default null.</param>
    public Tensor Sample(Tensor cond, Tensor uncond, Tensor initLatents, SamplingOptions options, Generator? generator = null,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default, int skipSteps = 0,
        IReadOnlyList<double>? guidanceScales = null)
    {
        CheckSamplingOptions(options);
        var scales = guidanceScales ?? Enumerable.Repeat(options.GuidanceScale, (int)initLatents.shape[0]).ToArray();
        if (scales.Count != initLatents.shape[0])
            throw new ArgumentException($"{scales.Count} guidance scales for a batch of {initLatents.shape[0]}.", nameof(guidanceScales));
        using var _ = torch.no_grad();
        var scheduler = new DdimScheduler(SchedulerConfig);
        scheduler.SetTimesteps(options.Steps);
        var latents = initLatents.Times(scheduler.InitNoiseSigma).DetachFromDisposeScope();
        var timesteps = scheduler.Timesteps;
        for (int i = Math.Clamp(skipSteps, 0, timesteps.Length); i < timesteps.Length; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var modelOutput = GuidedModelOutput(latents, timesteps[i], cond, uncond, scales, options.GuidanceRescale);
            var next = scheduler.Step(modelOutput, timesteps[i], latents, options.Eta, generator).PrevSample;
            latents.Dispose();
            latents = next.DetachFromDisposeScope();
            Training.NonFinite.CheckOutput(latents, $"Sampling step {i + 1} of {timesteps.Length} (t = {timesteps[i]})", "lower the guidance scale, or check the model's weights");
            progress?.Report(new StepProgress("sampling", i + 1, timesteps.Length));
        }
        return latents;
    }

    /// <summary>Text to image: returns the decoded image [1, 3, H, W] in about [-1, 1].</summary>
    /// <param name="initLatents">Starting noise; drawn from <paramref name="seed"/> when null.</param>
    public Tensor Generate(string prompt, string negativePrompt, SamplingOptions options, long seed,
        int? height = null, int? width = null, Tensor? initLatents = null,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default)
    {
        using var scope = torch.NewDisposeScope();
        // 1. check inputs
        int h = height ?? DefaultResolution, w = width ?? DefaultResolution;
        CheckImageSize(h, w);
        using var generator = new Generator((ulong)seed, Device);
        Tensor latents;
        if (initLatents is null)
            latents = InitialNoise(h, w, generator);
        else
        {
            var expected = new long[] { 1, LatentChannels, h / VaeScaleFactor, w / VaeScaleFactor };
            if (!initLatents.shape.SequenceEqual(expected))
                throw new ImagicException($"The initial latents have shape [{string.Join(", ", initLatents.shape)}] but a {w}x{h} image needs [{string.Join(", ", expected)}].");
            latents = initLatents.to(ScalarType.Float32, Device);
        }
        // 2. encode the prompt and the negative (unconditional) prompt
        var cond = EncodePrompt(prompt);
        var uncond = EncodePrompt(negativePrompt);
        // 3-5. denoise, then decode
        var clean = Sample(cond, uncond, latents, options, generator, progress, cancellation);
        var image = DecodeLatents(clean);
        clean.Dispose();
        return image.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        TextEncoder.Dispose();
        UNet.Dispose();
        Vae?.Dispose();
    }
}
