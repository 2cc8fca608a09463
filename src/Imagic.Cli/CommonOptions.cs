using System.CommandLine;
using Imagic.Editing;
using Imagic.Imaging;
using Imagic.Training;

namespace Imagic.Cli;

/// <summary>
/// The options several commands share, declared once here. <c>--model</c> and how it is loaded (<c>--device</c>, …) are in
/// <see cref="ModelLoadOptions"/>.
/// </summary>
internal static class CommonOptions
{
    /// <summary><c>--threads</c>: TorchSharp's CPU threads, all cores by default.</summary>
    public static Option<int> Threads() =>
        new("--threads") { Description = "CPU threads.", DefaultValueFactory = _ => Environment.ProcessorCount };

    /// <summary>Sets TorchSharp's thread count from <c>--threads</c>.</summary>
    public static void ApplyThreads(ParseResult result, Option<int> threads)
    {
        int n = result.GetValue(threads);
        if (n is < 1 or > 1024) throw new ImagicException($"--threads must be between 1 and 1024, got {n}.");
        TorchSharp.torch.set_num_threads(n);
    }

    /// <summary><c>--fit crop|pad</c>: how a photo is brought to the model's square resolution (null: crop).</summary>
    public static Option<FitMode?> Fit()
    {
        // No default value factory: help would show the enum's name ("CenterCrop"), which the option does not accept.
        var fit = new Option<FitMode?>("--fit")
        {
            Description = "How to bring the photo to the model's square resolution: 'crop' (centre crop, the default) or 'pad'.",
            HelpName = "crop|pad",
            CustomParser = r => r.Tokens.Single().Value == "pad" ? FitMode.Pad : FitMode.CenterCrop,
        };
        fit.AcceptOnlyFromAmong("crop", "pad");
        return fit;
    }

    /// <summary>
    /// An option whose values are an enum's names in lower case, so that help lists them as users type them and a wrong
    /// value is answered with those names rather than the enum's .NET type.
    /// </summary>
    public static Option<T?> LowerCaseEnum<T>(string name, string description) where T : struct, Enum
    {
        var names = Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();
        var option = new Option<T?>(name)
        {
            Description = description,
            HelpName = string.Join('|', names),
            CustomParser = r => Enum.Parse<T>(r.Tokens.Single().Value, ignoreCase: true),
        };
        option.AcceptOnlyFromAmong(names);
        return option;
    }

    /// <summary><c>--start noise|inversion</c>: stage C's <see cref="SamplingStart"/>; null when not given.</summary>
    public static Option<string?> Start(string description)
    {
        var start = new Option<string?>("--start") { Description = description, HelpName = "noise|inversion" };
        start.AcceptOnlyFromAmong("noise", "inversion");
        return start;
    }

    /// <summary>
    /// <c>--noise-from-eta η|off</c>: stage C's <see cref="ImagicOptions.NoiseFromEta"/>; null when not given. Parse it with
    /// <see cref="ParseNoiseFromEta"/>.
    /// </summary>
    public static Option<string?> NoiseFromEta(string description) =>
        new("--noise-from-eta") { Description = description, HelpName = "η|off" };

    /// <summary>The value of a <see cref="NoiseFromEta"/> option: null when not given, −1 for 'off', otherwise η.</summary>
    public static double? ParseNoiseFromEta(string? value) => ParseEtaOrOff(value, "--noise-from-eta", zeroAllowed: true);

    /// <summary>
    /// <c>--guidance-ramp η|off</c>: stage C's <see cref="ImagicOptions.GuidanceRamp"/>; null when not given. Parse it with
    /// <see cref="ParseGuidanceRamp"/>.
    /// </summary>
    public static Option<string?> GuidanceRamp(string description) =>
        new("--guidance-ramp") { Description = description, HelpName = "η|off" };

    /// <summary>The value of a <see cref="GuidanceRamp"/> option: null when not given, −1 for 'off', otherwise η (above 0).</summary>
    public static double? ParseGuidanceRamp(string? value) => ParseEtaOrOff(value, "--guidance-ramp", zeroAllowed: false);

    /// <summary>An η or 'off' (−1); null when not given; a one-line error naming <paramref name="option"/> otherwise.</summary>
    static double? ParseEtaOrOff(string? value, string option, bool zeroAllowed)
    {
        if (value is null) return null;
        if (value == "off") return -1;
        if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double eta)
            && eta <= ImagicOptions.MaxEta && (zeroAllowed ? eta >= 0 : eta > 0))
            return eta;
        throw new ImagicException($"{option} takes an η {(zeroAllowed ? "between 0 and" : "above 0 and at most")} {ImagicOptions.MaxEta}, " +
            $"or 'off'; got '{value}'.");
    }

    /// <summary><c>--forget none|encoder|decoder</c>: stage C's <see cref="ImagicOptions.Forget"/>; null when not given.</summary>
    public static Option<string?> Forget(string description)
    {
        var forget = new Option<string?>("--forget") { Description = description, HelpName = "none|encoder|decoder" };
        forget.AcceptOnlyFromAmong("none", "encoder", "decoder");
        return forget;
    }

    /// <summary><c>--guidance-negative empty|reconstruction</c>: stage C's <see cref="ImagicOptions.GuidanceNegative"/>; null when not given.</summary>
    public static Option<string?> GuidanceNegative(string description)
    {
        var negative = new Option<string?>("--guidance-negative") { Description = description, HelpName = "empty|reconstruction" };
        negative.AcceptOnlyFromAmong("empty", "reconstruction");
        return negative;
    }

    /// <summary>The value of a <see cref="GuidanceNegative(string)"/> option.</summary>
    public static Editing.GuidanceNegative? ParseGuidanceNegative(string? value) => value switch
    {
        null => null,
        "reconstruction" => Editing.GuidanceNegative.Reconstruction,
        _ => Editing.GuidanceNegative.Empty,
    };

    /// <summary><c>--mask auto|none</c>: stage C's <see cref="ImagicOptions.Mask"/>; null when not given.</summary>
    public static Option<string?> Mask(string description)
    {
        var mask = new Option<string?>("--mask") { Description = description, HelpName = "auto|none" };
        mask.AcceptOnlyFromAmong("auto", "none");
        return mask;
    }

    /// <summary><c>--share-attention F</c>: stage C's <see cref="ImagicOptions.ShareAttention"/>; null when not given.</summary>
    /// <remarks>The range is checked with every other setting by <see cref="ImagicOptions.Validate"/>.</remarks>
    public static Option<double?> ShareAttention(string description) =>
        new("--share-attention") { Description = description, HelpName = "0..1" };

    /// <summary>The value of a <see cref="Mask"/> option.</summary>
    public static EditMaskMode? ParseMask(string? value) => value switch
    {
        null => null,
        "auto" => EditMaskMode.Auto,
        _ => EditMaskMode.None,
    };

    /// <summary>The value of a <see cref="Forget"/> option.</summary>
    public static Models.UNetHalf? ParseForget(string? value) => value switch
    {
        null => null,
        "encoder" => Models.UNetHalf.Encoder,
        "decoder" => Models.UNetHalf.Decoder,
        _ => Models.UNetHalf.None,
    };

    /// <summary>The value of a <see cref="Start"/> option.</summary>
    public static SamplingStart? ParseStart(string? value) => value switch
    {
        null => null,
        "inversion" => SamplingStart.Inversion,
        _ => SamplingStart.Noise,
    };

    /// <summary><c>--recipe paper|fast</c>: named Imagic settings (<see cref="ImagicRecipes"/>) in place of the model's defaults.</summary>
    public static Option<string?> Recipe(string description)
    {
        var recipe = new Option<string?>("--recipe") { Description = description };
        recipe.AcceptOnlyFromAmong([.. ImagicRecipes.Names]);
        return recipe;
    }
}

/// <summary>
/// The command-line values that overlay a model's Imagic defaults (<see cref="ImagicRecipes.Resolve"/>: the model's own
/// or a recipe's): each option given replaces the default, each omitted one keeps it. <c>imagic edit</c> offers them
/// all, <c>imagic bench</c> some; an option a command does not offer reads as omitted.
/// </summary>
internal sealed class ImagicOverrides
{
    public Option<long?> Seed { get; } = new("--seed") { Description = "The one seed behind every random draw of the edit. Default 0." };
    public Option<int?> EmbeddingSteps { get; } = new("--embedding-steps") { Description = "Stage A steps (paper, SD: 1000)." };
    public Option<double?> EmbeddingLr { get; } = new("--embedding-lr") { Description = "Stage A learning rate (paper, SD: 2e-3)." };
    public Option<int?> FinetuneSteps { get; } = new("--finetune-steps") { Description = "Stage B steps (paper: 1500)." };
    public Option<double?> FinetuneLr { get; } = new("--finetune-lr") { Description = "Stage B learning rate of full and decoder fine-tuning (paper, SD: 5e-7)." };
    public Option<FinetuneMethod?> Finetune { get; } = CommonOptions.LowerCaseEnum<FinetuneMethod>("--finetune",
        "Stage B method: 'full' fine-tunes every UNet weight (the paper's method, default); 'lora' trains only " +
        "low-rank adapters on the attention projections and merges them into the UNet afterwards: a variant of the paper " +
        "(parameter-efficient), not the paper's method; 'decoder' fine-tunes only the UNet's decoder half (up blocks and output), " +
        "as Forgedit does, at about 0.8 of a full step's cost.");
    public Option<int?> LoraRank { get; } = new("--lora-rank") { Description = "With --finetune lora: the adapters' rank (default 4)." };
    public Option<double?> LoraAlpha { get; } = new("--lora-alpha") { Description = "With --finetune lora: alpha; the update is scaled by alpha/rank (default: the rank)." };
    public Option<double?> LoraLr { get; } = new("--lora-lr") { Description = "With --finetune lora: stage B learning rate (default 1e-4)." };
    public Option<bool> GradientCheckpointing { get; } = new("--gradient-checkpointing")
    {
        Description = "Stage B: recompute UNet activations in backward instead of storing them: less memory (see docs/memory.md), " +
            "roughly 20-40% more time per step; the same result.",
    };
    public Option<int?> SamplingSteps { get; } = new("--steps") { Description = "Stage C DDIM steps (default 50)." };
    public Option<double?> Guidance { get; } = new("--guidance") { Description = "Stage C classifier-free guidance scale (default 7.5)." };
    public Option<double?> GuidanceRescale { get; } = new("--guidance-rescale")
    {
        Description = "Stage C guidance rescale φ in [0, 1] (Lin et al. 2023): pulls the guided output's scale back toward the " +
            "conditional one, against over-saturated colours at high guidance (default 0).",
    };
    public Option<string?> Start { get; } = CommonOptions.Start(
        "What stage C samples from: 'noise' (the paper: noise from the seed, so each seed gives another edit) or " +
        "'inversion' (the input inverted by DDIM under the fine-tuned model: edits keep the input's layout, and every seed " +
        "gives the same edit). Default: the model's Imagic defaults, otherwise noise.");

    public Option<string?> NoiseFromEta { get; } = CommonOptions.NoiseFromEta(
        "With --start inversion: the η values at or above this one start from the seed's noise instead, so that large edits can " +
        "repaint colours the inversion holds (a background, an object's colour); 'off': every η from the inversion. " +
        "Default: the model's Imagic defaults, otherwise off.");
    public Option<string?> GuidanceRamp { get; } = CommonOptions.GuidanceRamp(
        "The η at which stage C's guidance reaches --guidance; below it the scale ramps from 1 (unguided at η = 0, so η = 0 gives " +
        "the input back and small η make small changes); 'off': the full scale at every η. Default: the model's Imagic defaults, otherwise off.");
    public Option<string?> GuidanceNegative { get; } = CommonOptions.GuidanceNegative(
        "What stage C's guidance pushes away from: 'empty' (the empty prompt, as in the paper: strengthens everything the text " +
        "describes) or 'reconstruction' (e_opt: strengthens only the change from the embedding that gives the input back, so " +
        "edits come at smaller η; not in the paper; on the bundled model they overshoot past η 0.9 at guidance 4, so try a lower " +
        "--guidance and η ≤ 0.9; docs/imagic-tuning.md). Default: the model's Imagic defaults, otherwise empty.");
    public Option<string?> Forget { get; } = CommonOptions.Forget(
        "Forgedit's forgetting in stage C: each η samples with that half of the fine-tuned UNet moved back toward its pretrained " +
        "weights by min(η, 1)^p (p: the model's forget_power, 1 unless set), so the text can change what stage B fitted there " +
        "('decoder': appearance; 'encoder': layout) while " +
        "η = 0 still reconstructs the input. Default: the model's Imagic defaults, otherwise none.");
    public Option<string?> Mask { get; } = CommonOptions.Mask(
        "'auto' keeps the input's own pixels outside the region the edit changes, estimated from where the target text and the " +
        "optimised embedding disagree (DiffEdit's mask; not in the paper); 'none' returns the sampled image as it is. " +
        "Default: the model's Imagic defaults, otherwise none.");
    public Option<double?> ShareAttention { get; } = CommonOptions.ShareAttention(
        "The fraction of stage C's steps, from the first, at which every η attends with the self-attention of the η = 0 " +
        "reconstruction, so that edits keep the input's layout (Plug-and-Play's and Prompt-to-Prompt's sharing; not in the " +
        "paper). 0 (none) to 1 (every step). Default: the model's Imagic defaults, otherwise 0.");
    public Option<string?> EtaSweep { get; } = new("--eta")
    {
        Description = "Comma-separated η values of the sweep grid, e.g. 0.6,0.7,0.8. η weighs the target text against the reconstruction: " +
            "e = η·e_tgt + (1−η)·e_opt. Higher edits more, lower preserves more; each in [0, 2] (above 1 extrapolates). Default 0.5,...,1.0.",
    };
    public Option<int?> CheckpointEvery { get; } = new("--checkpoint-every") { Description = "Steps between checkpoints (default 100)." };

    /// <summary>Every option, in the order <c>imagic edit --help</c> lists them.</summary>
    public IEnumerable<Option> All => new Option[]
    {
        Seed, EmbeddingSteps, EmbeddingLr, FinetuneSteps, FinetuneLr, Finetune, LoraRank, LoraAlpha, LoraLr, GradientCheckpointing,
        SamplingSteps, Guidance, GuidanceRescale, GuidanceRamp, GuidanceNegative, Start, NoiseFromEta, Forget, Mask, ShareAttention, EtaSweep, CheckpointEvery,
    };

    /// <summary>
    /// <paramref name="defaults"/> with every option given on the command line applied; <paramref name="warn"/> hears
    /// about η values that are allowed but unusual (<see cref="OptionChecks.ParseEtas"/>).
    /// </summary>
    public ImagicOptions ApplyTo(ParseResult result, ImagicOptions defaults, Action<string> warn) => defaults with
    {
        Seed = result.GetValue(Seed) ?? defaults.Seed,
        EmbeddingSteps = result.GetValue(EmbeddingSteps) ?? defaults.EmbeddingSteps,
        EmbeddingLearningRate = result.GetValue(EmbeddingLr) ?? defaults.EmbeddingLearningRate,
        FinetuneSteps = result.GetValue(FinetuneSteps) ?? defaults.FinetuneSteps,
        FinetuneLearningRate = result.GetValue(FinetuneLr) ?? defaults.FinetuneLearningRate,
        FinetuneMethod = result.GetValue(Finetune) ?? defaults.FinetuneMethod,
        LoraRank = result.GetValue(LoraRank) ?? defaults.LoraRank,
        LoraAlpha = result.GetValue(LoraAlpha) ?? defaults.LoraAlpha,
        LoraLearningRate = result.GetValue(LoraLr) ?? defaults.LoraLearningRate,
        GradientCheckpointing = result.GetValue(GradientCheckpointing) || defaults.GradientCheckpointing,
        SamplingSteps = result.GetValue(SamplingSteps) ?? defaults.SamplingSteps,
        GuidanceScale = result.GetValue(Guidance) ?? defaults.GuidanceScale,
        GuidanceRescale = result.GetValue(GuidanceRescale) ?? defaults.GuidanceRescale,
        SamplingStart = CommonOptions.ParseStart(result.GetValue(Start)) ?? defaults.SamplingStart,
        GuidanceRamp = StageCOverrides.EtaOrOffOver(CommonOptions.ParseGuidanceRamp(result.GetValue(GuidanceRamp)), defaults.GuidanceRamp),
        NoiseFromEta = StageCOverrides.EtaOrOffOver(CommonOptions.ParseNoiseFromEta(result.GetValue(NoiseFromEta)), defaults.NoiseFromEta),
        GuidanceNegative = CommonOptions.ParseGuidanceNegative(result.GetValue(GuidanceNegative)) ?? defaults.GuidanceNegative,
        Forget = CommonOptions.ParseForget(result.GetValue(Forget)) ?? defaults.Forget,
        Mask = CommonOptions.ParseMask(result.GetValue(Mask)) ?? defaults.Mask,
        ShareAttention = result.GetValue(ShareAttention) ?? defaults.ShareAttention,
        EtaSweep = result.GetValue(EtaSweep) is string etas ? OptionChecks.ParseEtas(etas, warn) : defaults.EtaSweep,
        CheckpointEvery = result.GetValue(CheckpointEvery) ?? defaults.CheckpointEvery,
    };
}
