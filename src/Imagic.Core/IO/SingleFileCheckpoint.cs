using Imagic.Models;
using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.IO;

/// <summary>The configs of a single-file checkpoint: inferred from its shapes, or given by a diffusers folder.</summary>
/// <param name="PadToken">The tokenizer's padding token when it differs from the tokenizer files' own: <c>!</c> for SD 2.x.</param>
public sealed record SingleFileConfigs(ClipTextConfig TextEncoder, UNet2DConditionConfig UNet, AutoencoderKLConfig Vae,
    SchedulerConfig Scheduler, string? PadToken);

/// <summary>
/// A Stable Diffusion checkpoint in the original CompVis/LDM single-file layout, as AUTOMATIC1111, ComfyUI and
/// stable-diffusion.cpp keep them (<c>v1-5-pruned-emaonly.safetensors</c>, <c>v2-1_768-ema-pruned.safetensors</c>).
/// It infers the architecture from the weights' shapes and loads the weights into this project's diffusers-layout
/// models tensor by tensor, so a 4 GB file never needs two full copies in memory.
/// </summary>
/// <remarks>
/// Every key rename lives in <see cref="LdmKeys"/>. Loading is strict: every parameter must find its key with the
/// right shape, and every key of the file must be loaded or be one of <see cref="LdmKeys.IsIgnored"/>.
/// </remarks>
public sealed class SingleFileCheckpoint : IDisposable
{
    /// <summary>Prefix of files saved with their weights nested under a <c>state_dict</c> entry.</summary>
    const string NestedPrefix = "state_dict.";
    const int MaxListedKeys = 8;

    static readonly string[] PickleExtensions = [".ckpt", ".pt", ".pth", ".bin"];

    readonly SafeTensorsFile _file;
    readonly string _prefix;
    readonly Dictionary<string, SafeTensorsEntry> _entries;

    public string Path => _file.Path;

    /// <summary>The text encoder layout, which names the family: OpenAI CLIP for SD 1.x, OpenCLIP for SD 2.x.</summary>
    public LdmTextLayout TextLayout { get; }

    /// <summary>The checkpoint's keys, after unwrapping a nested <c>state_dict</c>.</summary>
    public IReadOnlyCollection<string> Keys => _entries.Keys;

    SingleFileCheckpoint(SafeTensorsFile file, string prefix, Dictionary<string, SafeTensorsEntry> entries, LdmTextLayout text)
    {
        _file = file;
        _prefix = prefix;
        _entries = entries;
        TextLayout = text;
    }

    /// <summary>True when <paramref name="path"/> names a file rather than a model folder.</summary>
    public static bool IsSingleFile(string path) => File.Exists(path) ||
        PickleExtensions.Concat([".safetensors"]).Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase)) && !Directory.Exists(path);

    /// <summary>
    /// Opens <paramref name="path"/> and checks that it is a Stable Diffusion 1.x/2.x text-to-image checkpoint.
    /// Throws <see cref="ImagicException"/> with one line naming the reason otherwise.
    /// </summary>
    public static SingleFileCheckpoint Open(string path)
    {
        if (PickleExtensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
            throw new ImagicException($"{path} is a PyTorch pickle, which Imagic does not read because loading it can run arbitrary code; " +
                "convert it to .safetensors first (e.g. in Python: safetensors.torch.save_file(torch.load(f)[\"state_dict\"], \"model.safetensors\")).");
        if (!File.Exists(path))
            throw new ImagicException($"The checkpoint file does not exist: {path}");
        var file = SafeTensorsFile.Open(path);
        try
        {
            string prefix = file.Entries.Count > 0 && file.Entries.Keys.All(k => k.StartsWith(NestedPrefix, StringComparison.Ordinal)) ? NestedPrefix : "";
            var entries = file.Entries.Values.ToDictionary(e => e.Name[prefix.Length..], StringComparer.Ordinal);
            var text = CheckKind(path, entries);
            return new SingleFileCheckpoint(file, prefix, entries, text);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    static LdmTextLayout CheckKind(string path, Dictionary<string, SafeTensorsEntry> entries)
    {
        bool Any(string prefix) => entries.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal));
        if (Any("conditioner.embedders."))
            throw new ImagicException($"{path} is an SDXL checkpoint (it has conditioner.embedders.* keys); Imagic supports Stable Diffusion 1.x and 2.x.");
        if (!Any(LdmKeys.UNetPrefix))
            throw new ImagicException($"{path} is not a Stable Diffusion checkpoint of a known family: it has no {LdmKeys.UNetPrefix}* keys " +
                $"(it has e.g. {string.Join(", ", entries.Keys.Take(3).Select(k => $"'{k}'"))}).");
        if (Any(LdmKeys.UNetPrefix + "label_emb."))
            throw new ImagicException($"{path} has a class-conditioned UNet ({LdmKeys.UNetPrefix}label_emb.*, as SDXL and unCLIP have); Imagic supports Stable Diffusion 1.x and 2.x.");
        const string convIn = LdmKeys.UNetPrefix + "input_blocks.0.0.weight";
        if (entries.TryGetValue(convIn, out var e) && e.Shape.Length == 4 && e.Shape[1] == 9)
            throw new ImagicException($"{path} is an inpainting checkpoint ('{convIn}' takes 9 input channels: latents, mask and masked image); Imagic edits with text-to-image checkpoints (4 channels).");
        bool openAi = Any(LdmKeys.OpenAiClipPrefix), openClip = Any(LdmKeys.OpenClipPrefix);
        if (openAi == openClip)
            throw new ImagicException(openAi
                ? $"{path} holds two text encoders ({LdmKeys.OpenAiClipPrefix}* and {LdmKeys.OpenClipPrefix}*); a Stable Diffusion 1.x/2.x checkpoint has one."
                : $"{path} has no text encoder: neither {LdmKeys.OpenAiClipPrefix}* (SD 1.x) nor {LdmKeys.OpenClipPrefix}* (SD 2.x) keys.");
        if (!Any(LdmKeys.VaePrefix))
            throw new ImagicException($"{path} has no VAE ({LdmKeys.VaePrefix}* keys); Imagic needs the full checkpoint, not the UNet alone.");
        return openAi ? LdmTextLayout.OpenAiClip : LdmTextLayout.OpenClip;
    }

    /// <summary>The stored shape of <paramref name="key"/>; throws naming the key when the checkpoint lacks it.</summary>
    public long[] Shape(string key) => _entries.TryGetValue(key, out var e) ? e.Shape
        : throw new ImagicException($"{Path} is missing the key '{key}', which every Stable Diffusion {Family} checkpoint has.");

    public bool Contains(string key) => _entries.ContainsKey(key);

    string Family => TextLayout == LdmTextLayout.OpenAiClip ? "1.x" : "2.x";

    /// <summary>
    /// Infers the three model configs from the weights' shapes and the family's standard scheduler, the way the
    /// reference converters do. The family is the cross-attention width: 768 for SD 1.x (OpenAI CLIP ViT-L), 1024 for
    /// SD 2.x (OpenCLIP ViT-H); other widths need an explicit config.
    /// </summary>
    /// <param name="predictionType">Cannot be read from weights. Default: ε for SD 1.x, v-prediction for SD 2.x (the
    /// 768 px models; pass ε for 2.x base).</param>
    public SingleFileConfigs InferConfigs(PredictionType? predictionType = null)
    {
        var unet = InferUNet(out int crossDim);
        bool sd2 = crossDim switch
        {
            768 => false,
            1024 => true,
            _ => throw new ImagicException($"{Path} is not of a known Stable Diffusion family: its cross-attention width is {crossDim}, " +
                "neither SD 1.x's 768 nor SD 2.x's 1024. Pass --config with a diffusers folder whose */config.json files describe it."),
        };
        var expectedText = sd2 ? LdmTextLayout.OpenClip : LdmTextLayout.OpenAiClip;
        if (TextLayout != expectedText)
            throw new ImagicException($"{Path} mixes families: its UNet attends to {crossDim}-wide text (SD {(sd2 ? "2.x" : "1.x")}) " +
                $"but its text encoder is {(TextLayout == LdmTextLayout.OpenAiClip ? "OpenAI CLIP (SD 1.x)" : "OpenCLIP (SD 2.x)")}.");
        var prediction = predictionType ?? (sd2 ? PredictionType.VPrediction : PredictionType.Epsilon);
        // SD 1.x: 8 heads everywhere. SD 2.x: heads of 64 channels, so [5, 10, 20, 20] at 320…1280.
        var heads = sd2 ? new IntOrList(unet.BlockOutChannels.Select(c => c / 64).ToArray()) : new IntOrList(new[] { 8 });
        // The 768 px v-prediction models of SD 2.x sample 96×96 latents, the others 64×64.
        int sampleSize = sd2 && prediction == PredictionType.VPrediction ? 96 : 64;
        unet = unet with { AttentionHeadDim = heads, SampleSize = sampleSize };
        var vae = InferVae() with { SampleSize = sampleSize * 8 };
        var text = InferText();
        if (text.HiddenSize != crossDim)
            throw new ImagicException($"{Path}: the text encoder is {text.HiddenSize} wide but the UNet attends to {crossDim}-wide text.");
        return new SingleFileConfigs(text, unet, vae, StandardScheduler(prediction), sd2 ? "!" : null);
    }

    /// <summary>The DDIM scheduler config of Stable Diffusion 1.x and 2.x (<c>scheduler/scheduler_config.json</c> of the Hub models).</summary>
    public static SchedulerConfig StandardScheduler(PredictionType prediction) => new()
    {
        BetaStart = 0.00085, BetaEnd = 0.012, BetaSchedule = BetaSchedule.ScaledLinear, ClipSample = false,
        SetAlphaToOne = false, StepsOffset = 1, PredictionType = prediction,
    };

    UNet2DConditionConfig InferUNet(out int crossDim)
    {
        const string u = LdmKeys.UNetPrefix;
        var convIn = Shape(u + "input_blocks.0.0.weight");
        if (convIn[1] != 4)
            throw new ImagicException($"{Path}: '{u}input_blocks.0.0.weight' takes {convIn[1]} input channels; Stable Diffusion text-to-image UNets take 4.");
        int inputs = 1 + MaxIndex(u + "input_blocks.");
        int outputs = 1 + MaxIndex(u + "output_blocks.");
        // The first downsampler (input_blocks.N.0.op) follows the first level's resnets: N = layers_per_block + 1.
        int firstOp = Enumerable.Range(1, inputs).FirstOrDefault(n => Contains($"{u}input_blocks.{n}.0.op.weight"));
        int layers = firstOp > 0 ? firstOp - 1 : inputs - 1;
        if (layers < 1 || outputs % (layers + 1) != 0)
            throw new ImagicException($"{Path}: {inputs} input blocks and {outputs} output blocks do not form a UNet with {layers} layers per block.");
        int levels = outputs / (layers + 1);
        var channels = new int[levels];
        var down = new string[levels];
        var up = new string[levels];
        crossDim = 0;
        bool linear = false;
        int transformerLayers = 1;
        for (int i = 0; i < levels; i++)
        {
            string first = $"{u}input_blocks.{1 + i * (layers + 1)}";
            channels[i] = (int)Shape($"{first}.0.out_layers.3.weight")[0];
            down[i] = Contains($"{first}.1.proj_in.weight") ? "CrossAttnDownBlock2D" : "DownBlock2D";
            up[i] = Contains($"{u}output_blocks.{i * (layers + 1)}.1.proj_in.weight") ? "CrossAttnUpBlock2D" : "UpBlock2D";
            if (crossDim == 0 && down[i] == "CrossAttnDownBlock2D")
            {
                crossDim = (int)Shape($"{first}.1.transformer_blocks.0.attn2.to_k.weight")[1];
                linear = Shape($"{first}.1.proj_in.weight").Length == 2;
                transformerLayers = 1 + MaxIndex($"{first}.1.transformer_blocks.");
            }
        }
        if (crossDim == 0)
            throw new ImagicException($"{Path}: the UNet has no cross-attention blocks, so it cannot be conditioned on text.");
        return new UNet2DConditionConfig
        {
            InChannels = 4,
            OutChannels = (int)Shape(u + "out.2.weight")[0],
            BlockOutChannels = channels,
            LayersPerBlock = layers,
            DownBlockTypes = down,
            UpBlockTypes = up,
            MidBlockType = Contains(u + "middle_block.1.proj_in.weight") ? "UNetMidBlock2DCrossAttn" : null,
            CrossAttentionDim = crossDim,
            UseLinearProjection = linear,
            TransformerLayersPerBlock = transformerLayers,
        };
    }

    AutoencoderKLConfig InferVae()
    {
        const string v = LdmKeys.VaePrefix;
        int levels = 1 + MaxIndex(v + "encoder.down.");
        int layers = 1 + MaxIndex(v + "encoder.down.0.block.");
        var channels = Enumerable.Range(0, levels).Select(i => (int)Shape($"{v}encoder.down.{i}.block.0.conv2.weight")[0]).ToArray();
        return new AutoencoderKLConfig
        {
            InChannels = (int)Shape(v + "encoder.conv_in.weight")[1],
            OutChannels = (int)Shape(v + "decoder.conv_out.weight")[0],
            BlockOutChannels = channels,
            LayersPerBlock = layers,
            DownBlockTypes = Enumerable.Repeat("DownEncoderBlock2D", levels).ToArray(),
            UpBlockTypes = Enumerable.Repeat("UpDecoderBlock2D", levels).ToArray(),
            LatentChannels = (int)Shape(v + "post_quant_conv.weight")[0],
        };
    }

    ClipTextConfig InferText()
    {
        if (TextLayout == LdmTextLayout.OpenAiClip)
        {
            const string t = LdmKeys.OpenAiClipPrefix + "text_model.";
            var tokens = Shape(t + "embeddings.token_embedding.weight");
            return new ClipTextConfig
            {
                VocabSize = (int)tokens[0],
                HiddenSize = (int)tokens[1],
                MaxPositionEmbeddings = (int)Shape(t + "embeddings.position_embedding.weight")[0],
                NumHiddenLayers = 1 + MaxIndex(t + "encoder.layers."),
                IntermediateSize = (int)Shape(t + "encoder.layers.0.mlp.fc1.weight")[0],
                NumAttentionHeads = (int)tokens[1] / 64,
                HiddenAct = "quick_gelu",
            };
        }
        const string m = LdmKeys.OpenClipPrefix;
        var embedding = Shape(m + "token_embedding.weight");
        return new ClipTextConfig
        {
            VocabSize = (int)embedding[0],
            HiddenSize = (int)embedding[1],
            MaxPositionEmbeddings = (int)Shape(m + "positional_embedding")[0],
            NumHiddenLayers = OpenClipLayers(),
            IntermediateSize = (int)Shape(m + "transformer.resblocks.0.mlp.c_fc.weight")[0],
            NumAttentionHeads = (int)embedding[1] / 64,
            HiddenAct = "gelu",
        };
    }

    /// <summary>
    /// SD 2.x conditions on the penultimate layer of OpenCLIP: the original files carry all 24 resblocks and the
    /// <c>text_projection</c>, the last resblock unused; files written back from diffusers carry only the 23 used.
    /// </summary>
    int OpenClipLayers()
    {
        int stored = 1 + MaxIndex(LdmKeys.OpenClipPrefix + "transformer.resblocks.");
        return Contains(LdmKeys.OpenClipPrefix + "text_projection") ? stored - 1 : stored;
    }

    int MaxIndex(string prefix)
    {
        int max = -1;
        foreach (var key in _entries.Keys)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int dot = key.IndexOf('.', prefix.Length);
            if (dot > prefix.Length && int.TryParse(key.AsSpan(prefix.Length, dot - prefix.Length), out int n))
                max = Math.Max(max, n);
        }
        if (max < 0)
            throw new ImagicException($"{Path} is missing the keys {prefix}*, which every Stable Diffusion {Family} checkpoint has.");
        return max;
    }

    /// <summary>
    /// Fills the three models from the checkpoint. All keys are matched and checked before any weight is read; then
    /// each stored tensor is read once and copied (or split) into its parameters, so memory holds the models plus one
    /// stored tensor.
    /// </summary>
    /// <exception cref="ImagicException">A parameter's key is missing or has the wrong shape, or a key of the file
    /// belongs to no parameter. The message names the key.</exception>
    /// <param name="useEma">Load the UNet's EMA weights (<c>model_ema.*</c>) instead of its training weights. Default
    /// false: files such as <c>v1-5-pruned-emaonly</c> already hold the EMA weights as the model's.</param>
    public void LoadInto(ClipTextModel text, UNet2DConditionModel unet, AutoencoderKL vae, bool useEma = false)
    {
        var layout = LdmLayout.From(TextLayout, unet.Config, vae.Config);
        if (useEma && !_entries.Keys.Any(k => k.StartsWith("model_ema.", StringComparison.Ordinal)))
            throw new ImagicException($"{Path} holds no EMA weights (model_ema.* keys); load it without asking for them.");
        var plan = Plan(layout, useEma, (SdComponent.TextEncoder, text), (SdComponent.UNet, unet), (SdComponent.Vae, vae));
        var byKey = plan.GroupBy(p => p.Source.Key).OrderBy(g => _entries[g.Key].Begin);
        foreach (var group in byKey)
        {
            using var scope = torch.NewDisposeScope();
            var entry = _entries[group.Key];
            var stored = _file.Read(_prefix + group.Key, SafeTensorsFile.ToScalarType(entry.DType));
            foreach (var (source, targetName, target) in group)
            {
                var value = Cut(stored, source.Transform);
                if (!value.shape.SequenceEqual(target.shape))
                    throw new ImagicException($"Cannot load {Path}: '{group.Key}' has shape {ShapeText(stored.shape)}, which does not fit " +
                        $"'{targetName}' of shape {ShapeText(target.shape)}. The config does not match the weights; pass --config with the right one.");
                using (torch.no_grad())
                    target.copy_(value);
            }
        }
    }

    /// <summary>Checks, without reading weights, that the models and the checkpoint's keys match one to one.</summary>
    public void CheckKeys(ClipTextModel text, UNet2DConditionModel unet, AutoencoderKL vae) =>
        Plan(LdmLayout.From(TextLayout, unet.Config, vae.Config), false, (SdComponent.TextEncoder, text), (SdComponent.UNet, unet), (SdComponent.Vae, vae));

    sealed record Step(LdmKey Source, string TargetName, Tensor Target);

    List<Step> Plan(LdmLayout layout, bool useEma, params (SdComponent Component, Module Module)[] components)
    {
        var steps = new List<Step>();
        var missing = new List<string>();
        var noCounterpart = new List<string>();
        foreach (var (component, module) in components)
            foreach (var (name, target) in Targets(module))
            {
                var source = LdmKeys.ToLdm(component, name, layout);
                if (source is null) { noCounterpart.Add($"{component} '{name}'"); continue; }
                if (useEma && component == SdComponent.UNet) source = source with { Key = LdmKeys.EmaKey(source.Key) };
                if (!_entries.ContainsKey(source.Key)) { missing.Add(source.Key); continue; }
                steps.Add(new Step(source, $"{component}.{name}", target));
            }
        if (noCounterpart.Count > 0)
            throw new ImagicException($"Cannot load {Path}: the model has parameters that the single-file layout has no place for: {List(noCounterpart)}.");
        if (missing.Count > 0)
            throw new ImagicException($"Cannot load {Path}: {missing.Count} key(s) are missing: {List(missing.Distinct().ToList())}. " +
                "The file is incomplete or of another architecture (pass --config if it is a model with other widths).");

        var used = steps.Select(s => s.Source.Key).ToHashSet(StringComparer.Ordinal);
        int textLayers = components.Select(c => c.Module).OfType<ClipTextModel>().FirstOrDefault()?.Config.NumHiddenLayers ?? 0;
        int storedLayers = TextLayout == LdmTextLayout.OpenClip && _entries.Keys.Any(k => LdmKeys.OpenClipResblock(k) is not null)
            ? 1 + _entries.Keys.Max(k => LdmKeys.OpenClipResblock(k) ?? -1) : 0;
        var unexpected = _entries.Keys
            .Where(k => !used.Contains(k) && !LdmKeys.IsIgnored(k))
            .Where(k => !(useEma && k.StartsWith(LdmKeys.UNetPrefix, StringComparison.Ordinal))) // replaced by their EMA
            // The 24th OpenCLIP resblock of an original SD 2.x file: SD 2.x uses the penultimate layer's output.
            .Where(k => !(storedLayers == textLayers + 1 && LdmKeys.OpenClipResblock(k) == textLayers))
            .OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new ImagicException($"Cannot load {Path}: {unexpected.Count} key(s) match no parameter: {List(unexpected)}. " +
                "The file holds weights of another architecture (pass --config if it is a model with other widths).");
        return steps;
    }

    static IEnumerable<(string, Tensor)> Targets(Module module)
    {
        foreach (var (name, p) in module.named_parameters()) yield return (name, p);
        foreach (var (name, b) in module.named_buffers(include_nonpersistent: false)) yield return (name, b);
    }

    static Tensor Cut(Tensor stored, LdmTransform transform) => transform switch
    {
        LdmTransform.Conv1x1 when stored.dim() == 4 && stored.shape[2] == 1 && stored.shape[3] == 1 => stored.reshape(stored.shape[0], stored.shape[1]),
        LdmTransform.FusedQ or LdmTransform.FusedK or LdmTransform.FusedV when stored.shape[0] % 3 == 0 =>
            stored.chunk(3, 0)[transform - LdmTransform.FusedQ],
        _ => stored,
    };

    /// <summary>
    /// Writes a pipeline's three models as one LDM-layout safetensors file: the inverse of <see cref="LoadInto"/>.
    /// It gathers every tensor before writing, so it suits small models and tests rather than 4 GB checkpoints.
    /// </summary>
    public static void Save(string path, LdmTextLayout textLayout, ClipTextModel text, UNet2DConditionModel unet, AutoencoderKL vae,
        ScalarType? weightsType = null)
    {
        var layout = LdmLayout.From(textLayout, unet.Config, vae.Config);
        using var scope = torch.NewDisposeScope();
        var parts = new Dictionary<string, Tensor?[]>(StringComparer.Ordinal);
        foreach (var (component, module) in new (SdComponent, Module)[] { (SdComponent.TextEncoder, text), (SdComponent.UNet, unet), (SdComponent.Vae, vae) })
            foreach (var (name, tensor) in Targets(module))
            {
                var source = LdmKeys.ToLdm(component, name, layout)
                    ?? throw new ImagicException($"The {component} parameter '{name}' has no place in the single-file layout.");
                var t = tensor.detach();
                if (weightsType is ScalarType type && torch.is_floating_point(t)) t = t.to_type(type);
                var slots = parts.TryGetValue(source.Key, out var existing) ? existing : parts[source.Key] = new Tensor?[3];
                switch (source.Transform)
                {
                    case LdmTransform.Conv1x1: slots[0] = t.reshape(t.shape[0], t.shape[1], 1, 1); break;
                    case LdmTransform.FusedQ or LdmTransform.FusedK or LdmTransform.FusedV: slots[source.Transform - LdmTransform.FusedQ] = t; break;
                    default: slots[0] = t; break;
                }
            }
        var tensors = parts.Select(kv => new KeyValuePair<string, Tensor>(kv.Key,
            kv.Value[1] is null ? kv.Value[0]! : torch.cat(kv.Value.Select(s => s!).ToArray(), 0)));
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    static string ShapeText(long[] shape) => $"[{string.Join(", ", shape)}]";

    static string List(IReadOnlyList<string> keys) =>
        string.Join(", ", keys.Take(MaxListedKeys).Select(k => k.StartsWith('\'') || k.Contains(" '") ? k : $"'{k}'")) +
        (keys.Count > MaxListedKeys ? $" and {keys.Count - MaxListedKeys} more" : "");

    public void Dispose() => _file.Dispose();
}
