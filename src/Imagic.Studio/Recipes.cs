using System.Globalization;
using Imagic.Editing;
using Imagic.Training;

namespace Imagic.Studio;

/// <summary>One choice of the page's recipe field: its name, a line about it, and the settings it gives.</summary>
internal sealed record Recipe(string Name, string Description, ImagicOptions Options);

/// <summary>
/// The named Imagic settings a request may choose with <c>recipe</c>, for one model: <c>default</c> (the model's own
/// <c>imagic_defaults.json</c> over the paper's settings) and every recipe of <see cref="ImagicRecipes"/>
/// (<c>paper</c>, <c>fast</c>), resolved as <c>imagic edit --recipe</c> resolves them.
/// </summary>
internal sealed class Recipes
{
    public const string Default = "default";

    readonly Dictionary<string, Recipe> _byName;

    /// <summary>Resolves and checks every recipe of <paramref name="modelDir"/> once, so that a bad one fails at start.</summary>
    /// <exception cref="ImagicException">The model's defaults or one of its recipes is invalid.</exception>
    public Recipes(string modelDir)
    {
        var list = new List<Recipe> { Make(Default, "the model's Imagic defaults", ImagicRecipes.Resolve(modelDir, null)) };
        foreach (var name in ImagicRecipes.Names)
        {
            string about = name switch
            {
                ImagicRecipes.Paper => "the paper's Stable Diffusion settings",
                ImagicRecipes.Fast => "at most a fifth of the paper's training compute",
                _ => name,
            };
            list.Add(Make(name, about, ImagicRecipes.Resolve(modelDir, name)));
        }
        All = list;
        _byName = list.ToDictionary(r => r.Name);
    }

    /// <summary>Every recipe, <c>default</c> first.</summary>
    public IReadOnlyList<Recipe> All { get; }

    public bool Exists(string name) => _byName.ContainsKey(name);

    public ImagicOptions Options(string name) => _byName[name].Options;

    static Recipe Make(string name, string about, ImagicOptions options)
    {
        options.Validate();
        string method = options.FinetuneMethod switch
        {
            FinetuneMethod.Lora => $"LoRA rank {options.LoraRank}",
            FinetuneMethod.Decoder => "decoder only",
            _ => "full",
        };
        return new Recipe(name, string.Create(CultureInfo.InvariantCulture,
            $"{about}: stage A {options.EmbeddingSteps} steps, stage B {options.FinetuneSteps} steps ({method})"), options);
    }
}
