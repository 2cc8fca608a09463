using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Imagic.Editing;
using Imagic.IO;

namespace Imagic.Studio;

/// <summary>
/// The run folders under <c>--runs</c>: one folder per edit, named by its id, in the layout of <see cref="EditRun"/>,
/// so runs made by <c>imagic edit</c> are listed and runs made here can be resumed or re-sampled from the CLI.
/// The studio adds one file, <c>studio.json</c>, recording why a run stopped (failed with its error, or cancelled).
/// </summary>
internal sealed partial class RunStore
{
    public const string OutcomeFile = "studio.json";
    const string UploadsDir = ".uploads";

    public string Root { get; }

    public RunStore(string root)
    {
        Root = Path.GetFullPath(root);
        try
        {
            Directory.CreateDirectory(Root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImagicException($"Cannot create the runs folder {Root}: {e.Message}", e);
        }
    }

    /// <summary>Where uploads wait until their edit has written its own input.png.</summary>
    public string Uploads => Path.Combine(Root, UploadsDir);

    // A plain folder name: no separators, no "..", no leading dot, so an id never reaches outside Root.
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex IdPattern();

    /// <summary>The folder of run <paramref name="id"/>, or null when the id is not a plain folder name.</summary>
    public string? DirOf(string id)
    {
        if (!IdPattern().IsMatch(id) || id.Contains("..", StringComparison.Ordinal)) return null;
        var dir = Path.GetFullPath(Path.Combine(Root, id));
        return Path.GetDirectoryName(dir) == Root ? dir : null;
    }

    public bool Exists(string id) => DirOf(id) is string dir && File.Exists(Path.Combine(dir, EditRun.ManifestFile));

    /// <summary>The ids of every run folder on disk (a folder with an edit.json).</summary>
    public IEnumerable<string> Ids() => Directory.EnumerateDirectories(Root)
        .Where(d => File.Exists(Path.Combine(d, EditRun.ManifestFile)))
        .Select(d => Path.GetFileName(d)!)
        .Where(id => DirOf(id) is not null);

    /// <summary>A new id like <c>20261201-153000-a-blue-circle</c>, as <c>imagic edit</c> names its runs.</summary>
    public string NewId(string prompt, Func<string, bool> taken)
    {
        var slug = new string(prompt.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());
        slug = string.Join('-', slug.Split('-', StringSplitOptions.RemoveEmptyEntries));
        if (slug.Length > 40) slug = slug[..40].TrimEnd('-');
        var id = $"{DateTime.Now:yyyyMMdd-HHmmss}-{(slug.Length > 0 ? slug : "edit")}";
        var candidate = id;
        for (int n = 2; taken(candidate) || Directory.Exists(Path.Combine(Root, candidate)); n++)
            candidate = $"{id}-{n}";
        return candidate;
    }

    /// <summary>The state of a run that no edit of this server is working on, read from its folder.</summary>
    public EditState Describe(string id)
    {
        var dir = DirOf(id)!;
        var created = new DateTimeOffset(Directory.GetCreationTimeUtc(dir), TimeSpan.Zero);
        EditRun.Manifest m;
        try
        {
            m = EditRun.Open(dir).ReadManifest();
        }
        catch (ImagicException e)
        {
            return new EditState(id, "", EditState.Failed, "", 0, 0, null, null, e.Message, 0, 0, Recipes.Default, created);
        }
        var (status, error, recipe) = ReadOutcome(dir);
        string? warning = m.VaeRoundTripPsnr is double psnr ? VaeCeiling.Warning(psnr, EditRun.VaeRoundTripFile + " in the run folder") : null;
        if (m.Status == "trained")
            return new EditState(id, m.TargetText, EditState.Ready, "done", 0, 0, null, null, null, m.Options.Seed, m.Options.Eta,
                recipe, created, Mask: m.Options.Mask, Warning: warning);
        var stage = Enum.TryParse<EditStage>(m.Stage, out var s) ? s : EditStage.EmbeddingOptimization;
        var (name, total) = stage == EditStage.ModelFineTuning ? ("stage B", m.Options.FinetuneSteps) : ("stage A", m.Options.EmbeddingSteps);
        return new EditState(id, m.TargetText, status ?? EditState.Interrupted, name, m.Step, total, null, null, error,
            m.Options.Seed, m.Options.Eta, recipe, created, Mask: m.Options.Mask, Warning: warning);
    }

    /// <summary>Records the recipe of a run made here, and later why it stopped; written atomically.</summary>
    public static void WriteOutcome(string dir, string? status, string? error, string recipe)
    {
        if (!Directory.Exists(dir)) return;
        var node = new JsonObject { ["recipe"] = recipe, ["status"] = status, ["error"] = error };
        AtomicFile.WriteAllText(Path.Combine(dir, OutcomeFile), node.ToJsonString());
    }

    /// <summary>The stop status and error recorded by <see cref="WriteOutcome"/>; all null for a run made elsewhere.</summary>
    public static (string? Status, string? Error, string Recipe) ReadOutcome(string dir)
    {
        var path = Path.Combine(dir, OutcomeFile);
        if (!File.Exists(path)) return (null, null, Recipes.Default);
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path));
            return (node?["status"]?.GetValue<string>(), node?["error"]?.GetValue<string>(),
                node?["recipe"]?.GetValue<string>() ?? Recipes.Default);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or IOException)
        {
            return (null, $"{path} is damaged: {e.Message}", Recipes.Default);
        }
    }
}
