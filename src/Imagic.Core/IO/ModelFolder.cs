using System.Text.Json.Nodes;

namespace Imagic.IO;

/// <summary>
/// A Stable Diffusion pipeline folder in the diffusers layout (<c>save_pretrained</c>):
/// <c>model_index.json</c> at the root and one subfolder per component (<c>tokenizer/</c>,
/// <c>text_encoder/</c>, <c>unet/</c>, <c>vae/</c>, <c>scheduler/</c>).
/// </summary>
/// <remarks>
/// <see cref="Open"/> checks the layout and the component classes up front, so an unsupported or
/// incomplete folder fails with one clear message before any weights are read. Config and weights files
/// are checked when they are asked for (<see cref="ReadConfig"/>, <see cref="WeightsFile"/>).
/// </remarks>
public sealed class ModelFolder
{
    /// <summary>The model classes this project implements, as named in <c>model_index.json</c>.</summary>
    public const string SupportedUNet = "UNet2DConditionModel";
    /// <inheritdoc cref="SupportedUNet"/>
    public const string SupportedTextEncoder = "CLIPTextModel";
    /// <inheritdoc cref="SupportedUNet"/>
    public const string SupportedVae = "AutoencoderKL";

    const string SupportedSummary =
        "Imagic supports Stable Diffusion 1.x/2.x pipelines in the diffusers layout: " +
        "unet UNet2DConditionModel, text_encoder CLIPTextModel, vae AutoencoderKL (or no vae)";

    // Checked in this order; the plain names are what diffusers writes, the fp16 variants what
    // save_pretrained(variant="fp16") writes. Half-precision weights are converted on load.
    static readonly string[] WeightsFileNames =
    [
        "diffusion_pytorch_model.safetensors", "model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors",
    ];

    static readonly string[] PickleExtensions = [".bin", ".ckpt", ".pt", ".pth"];

    /// <summary>The pipeline folder, as a full path.</summary>
    public string Root { get; }
    /// <summary>The parsed <c>model_index.json</c>.</summary>
    public JsonObject ModelIndex { get; }
    /// <summary>
    /// The pipeline's <c>_class_name</c> (e.g. "StableDiffusionPipeline"), or null if absent. Any value
    /// is accepted: what matters is the component classes.
    /// </summary>
    public string? PipelineClassName { get; }
    public string TokenizerDir { get; }
    public string TextEncoderDir { get; }
    public string UNetDir { get; }
    /// <summary>The VAE folder, or null for a pixel-space model (no "vae" entry, or <c>[null, null]</c>).</summary>
    public string? VaeDir { get; }
    /// <summary><c>scheduler/scheduler_config.json</c>.</summary>
    public string SchedulerConfigPath { get; }
    /// <summary>The scheduler class named in model_index.json (e.g. "DDIMScheduler"), or null.</summary>
    public string? SchedulerClassName { get; }
    /// <summary><c>imagic_defaults.json</c> at the root if the folder has one, else null.</summary>
    public string? ImagicDefaultsPath { get; }

    ModelFolder(string root, JsonObject index)
    {
        Root = root;
        ModelIndex = index;
        PipelineClassName = JsonConfig.GetString(index, "_class_name");

        var unet = Component(index, "unet") ?? throw Unsupported(root, "has no \"unet\" entry");
        if (unet.ClassName != SupportedUNet)
            throw Unsupported(root, $"declares unet {unet}");
        var textEncoder = Component(index, "text_encoder") ?? throw Unsupported(root, "has no \"text_encoder\" entry");
        if (textEncoder.ClassName != SupportedTextEncoder)
            throw Unsupported(root, $"declares text_encoder {textEncoder}");
        if (Component(index, "text_encoder_2") is { } second)
            throw Unsupported(root, $"declares a second text encoder {second} (an SDXL-style pipeline)");
        var vae = Component(index, "vae");
        if (vae is not null && vae.ClassName != SupportedVae)
            throw Unsupported(root, $"declares vae {vae}");
        if (Component(index, "tokenizer") is null)
            throw Unsupported(root, "has no \"tokenizer\" entry");
        var scheduler = Component(index, "scheduler") ?? throw Unsupported(root, "has no \"scheduler\" entry");

        TokenizerDir = RequireDir(root, "tokenizer");
        TextEncoderDir = RequireDir(root, "text_encoder");
        UNetDir = RequireDir(root, "unet");
        VaeDir = vae is null ? null : RequireDir(root, "vae");
        SchedulerClassName = scheduler.ClassName;
        SchedulerConfigPath = Path.Combine(RequireDir(root, "scheduler"), "scheduler_config.json");
        if (!File.Exists(SchedulerConfigPath))
            throw new ImagicException($"The scheduler config is missing: {SchedulerConfigPath}. A diffusers pipeline folder has scheduler/scheduler_config.json.");
        string defaults = Path.Combine(root, "imagic_defaults.json");
        ImagicDefaultsPath = File.Exists(defaults) ? defaults : null;
    }

    /// <summary>
    /// Opens the pipeline folder <paramref name="dir"/>: reads <c>model_index.json</c>, checks that the
    /// component classes are supported and that the component subfolders exist.
    /// Throws <see cref="ImagicException"/> naming the file and what is wrong.
    /// </summary>
    public static ModelFolder Open(string dir)
    {
        string root = Path.GetFullPath(dir);
        if (File.Exists(root))
            throw new ImagicException($"The model path {root} is a file; pass the pipeline folder that holds model_index.json (a single .ckpt/.safetensors checkpoint must first be converted to the diffusers layout).");
        if (!Directory.Exists(root))
            throw new ImagicException($"The model folder does not exist: {root}");
        string indexPath = Path.Combine(root, "model_index.json");
        if (!File.Exists(indexPath))
            throw new ImagicException($"{root} is not a diffusers pipeline folder: model_index.json is missing. Pass the folder written by diffusers' save_pretrained (or downloaded from the Hugging Face Hub).");
        return new ModelFolder(root, JsonConfig.ReadObject(indexPath, "model index"));
    }

    /// <summary>
    /// The safetensors weights of a component folder: <c>diffusion_pytorch_model.safetensors</c> or
    /// <c>model.safetensors</c>, else their <c>.fp16.safetensors</c> variants.
    /// </summary>
    public string WeightsFile(string componentDir)
    {
        if (!Directory.Exists(componentDir))
            throw new ImagicException($"The component folder does not exist: {componentDir}");
        foreach (var name in WeightsFileNames)
        {
            string candidate = Path.Combine(componentDir, name);
            if (File.Exists(candidate))
                return candidate;
        }

        string expected = string.Join(", ", WeightsFileNames);
        var sharded = Directory.EnumerateFiles(componentDir, "*.safetensors.index.json").Select(Path.GetFileName).FirstOrDefault();
        if (sharded is not null)
            throw new ImagicException($"{componentDir} holds sharded weights ({sharded}), which are not supported; merge them into one of: {expected}.");
        var pickles = Directory.EnumerateFiles(componentDir)
            .Where(f => PickleExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Select(Path.GetFileName).ToList();
        string found = pickles.Count > 0 ? $" It holds {string.Join(", ", pickles)}, a" : " A";
        throw new ImagicException(
            $"No weights file in {componentDir}: expected one of {expected}.{found} PyTorch pickle " +
            "(.bin/.ckpt/.pt) is not supported because loading it can run arbitrary code; convert it to safetensors " +
            "(e.g. with diffusers: load the pipeline and call save_pretrained(dir, safe_serialization=True)).");
    }

    /// <summary>The component's <c>config.json</c>. Throws <see cref="ImagicException"/> if it is missing or not a JSON object.</summary>
    public JsonObject ReadConfig(string componentDir) =>
        JsonConfig.ReadObject(Path.Combine(componentDir, "config.json"), $"{Path.GetFileName(componentDir)} config");

    /// <summary>A model_index.json entry <c>"name": ["library", "ClassName"]</c>; null when absent or <c>[null, null]</c>.</summary>
    sealed record ComponentEntry(string Library, string ClassName)
    {
        public override string ToString() => $"{ClassName} (from {Library})";
    }

    static ComponentEntry? Component(JsonObject index, string name)
    {
        if (!index.TryGetPropertyValue(name, out var node) || node is null)
            return null;
        if (node is JsonArray { Count: 2 } pair)
        {
            if (pair[0] is null && pair[1] is null)
                return null; // how diffusers records an absent optional component
            if (JsonConfig.GetStringList(index, name) is [var library, var className])
                return new ComponentEntry(library, className);
        }
        throw new ImagicException($"{JsonConfig.SourceOf(index)}: \"{name}\" must be [\"library\", \"ClassName\"] or [null, null] but is {node.ToJsonString()}.");
    }

    static string RequireDir(string root, string component)
    {
        string dir = Path.Combine(root, component);
        if (!Directory.Exists(dir))
            throw new ImagicException($"model_index.json in {root} lists \"{component}\" but the folder {dir} is missing.");
        return dir;
    }

    static ImagicException Unsupported(string root, string what) =>
        new($"Unknown model type: {Path.Combine(root, "model_index.json")} {what}. {SupportedSummary}.");
}
