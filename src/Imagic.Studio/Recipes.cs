using Imagic.Editing;

namespace Imagic.Studio;

/// <summary>
/// The named Imagic settings a request may choose with <c>recipe</c>. Each recipe turns the model's defaults
/// (the paper's settings overlaid with the model's <c>imagic_defaults.json</c>) into the options of an edit.
/// </summary>
internal static class Recipes
{
    public const string Default = "default";

    // Named recipes plug in here, e.g. ["paper"] = o => …, ["fast"] = o => …, once Imagic.Core defines them.
    static readonly Dictionary<string, (string Description, Func<ImagicOptions, ImagicOptions> Apply)> All = new()
    {
        [Default] = ("the model's Imagic defaults", o => o),
    };

    public static IEnumerable<(string Name, string Description)> List => All.Select(r => (r.Key, r.Value.Description));

    public static bool Exists(string name) => All.ContainsKey(name);

    public static ImagicOptions Apply(string name, ImagicOptions modelDefaults) => All[name].Apply(modelDefaults);
}
