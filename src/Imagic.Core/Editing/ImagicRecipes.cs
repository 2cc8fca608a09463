using System.Text.Json;
using System.Text.Json.Nodes;
using Imagic.Training;

namespace Imagic.Editing;

/// <summary>
/// Named presets of Imagic's settings, chosen with <c>--recipe</c>:
/// <list type="bullet">
/// <item><c>paper</c>: the paper's Stable Diffusion settings (<see cref="ImagicOptions"/>'s defaults), the default for a
/// model folder without <c>imagic_defaults.json</c>;</item>
/// <item><c>fast</c>: this project's recipe at no more than a fifth of the paper's training compute
/// (<see cref="TrainingCompute"/>).</item>
/// </list>
/// A model's <c>imagic_defaults.json</c> gives its own default, and may define its own version of a recipe under
/// <c>"recipes": { "fast": { … } }</c>, laid over its defaults; the bundled model does, with settings measured on it.
/// </summary>
public static class ImagicRecipes
{
    public const string Paper = "paper";
    public const string Fast = "fast";

    /// <summary>Every recipe name.</summary>
    public static IReadOnlyList<string> Names { get; } = [Paper, Fast];

    /// <summary>The paper's settings (Kawar et al., CVPR 2023, appendix; Stable Diffusion).</summary>
    public static ImagicOptions PaperOptions => new();

    /// <summary>
    /// The fast recipe for a Stable Diffusion checkpoint: stage A 250 steps at lr 2e-3, then a LoRA stage B (rank 4)
    /// of 400 steps at lr 1e-4, a fifth of the paper's training compute. LoRA keeps what the model knows of the
    /// target text while it learns the image, which is what the paper's tiny full-model learning rate is for.
    /// </summary>
    /// <remarks>Not measured on a real Stable Diffusion checkpoint here (none is available offline); see docs/imagic-tuning.md.</remarks>
    public static ImagicOptions FastOptions => new()
    {
        EmbeddingSteps = 250,
        FinetuneSteps = 400,
        FinetuneMethod = FinetuneMethod.Lora,
        LoraRank = 4,
        LoraLearningRate = 1e-4,
    };

    /// <summary>
    /// Training compute of stages A and B, in UNet forward passes: a forward and a backward cost about one forward
    /// each, so a stage A pair (t, ε) costs 2 (the gradient reaches only the embedding), a full stage B pair 3
    /// (weight gradients too), a LoRA pair 2 plus the adapters' small share, a decoder-only pair 2.3 (measured: its
    /// step takes 0.78 of a full one on the bundled model); gradient checkpointing adds one forward.
    /// </summary>
    public static double TrainingCompute(ImagicOptions o)
    {
        double a = o.EmbeddingSteps * o.EmbeddingBatch * 2.0;
        double perPairB = o.FinetuneMethod switch { FinetuneMethod.Lora => 2.0, FinetuneMethod.Decoder => 2.3, _ => 3.0 }
            + (o.GradientCheckpointing ? 1.0 : 0.0);
        int contexts = o.FinetuneUnconditional ? 2 : 1;
        return a + o.FinetuneSteps * o.FinetuneBatch * contexts * perPairB;
    }

    /// <summary>
    /// The settings for <paramref name="modelDir"/> under <paramref name="recipe"/>: null gives the model's defaults
    /// (its <c>imagic_defaults.json</c>, else the paper's); <c>paper</c> gives the paper's; <c>fast</c> gives the model's
    /// own fast recipe if its defaults file defines one, else <see cref="FastOptions"/>.
    /// </summary>
    public static ImagicOptions Resolve(string modelDir, string? recipe)
    {
        if (recipe is not null && !Names.Contains(recipe))
            throw new ImagicException($"Unknown recipe '{recipe}'; choose from {string.Join(", ", Names)}.");
        if (recipe == Paper) return PaperOptions;
        var defaults = ImagicOptions.ForModel(modelDir);
        if (recipe is null) return defaults;
        string path = Path.Combine(modelDir, "imagic_defaults.json");
        var own = File.Exists(path) ? ModelRecipe(path, recipe) : null;
        return own is null ? FastOptions : defaults.Overlay(own, $"{path} (recipe '{recipe}')");
    }

    static JsonObject? ModelRecipe(string path, string recipe)
    {
        try
        {
            return ImagicOptions.ParseJsonFile(path)?["recipes"]?[recipe] as JsonObject;
        }
        catch (JsonException e)
        {
            throw new ImagicException($"{path} is not valid: {e.Message}", e);
        }
    }
}
