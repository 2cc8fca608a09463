using System.Security.Cryptography;
using System.Text;
using Imagic.World;

namespace Imagic.Quality;

/// <summary>What kind of change an <see cref="EditCase"/> asks for.</summary>
public enum EditCategory
{
    /// <summary>Recolour the primary object.</summary>
    Color,
    /// <summary>Turn the primary object into another shape.</summary>
    Shape,
    /// <summary>Resize the primary object.</summary>
    Size,
    /// <summary>Move the primary object to another grid cell.</summary>
    Position,
    /// <summary>Change the background colour.</summary>
    Background,
    /// <summary>Stretch the primary object differently: the world's non-rigid edit.</summary>
    Pose,
    /// <summary>Two of the above at once.</summary>
    TwoAttributes,
}

/// <summary>
/// One benchmark task: an input scene, the edits, and from them the ground-truth edited scene and the
/// target text. Images are rendered on demand at the model's resolution, so one suite serves the
/// 32×32 shapes model and the 64×64 test model alike.
/// </summary>
/// <param name="Id">Stable name, e.g. <c>003-position</c>: the case's index in the suite and its category.</param>
/// <param name="Category">The kind of edit.</param>
/// <param name="Source">The input image's scene.</param>
/// <param name="Edits">The requested changes, one per attribute.</param>
/// <param name="Seed">The case's own seed: every method draws its noise (and Imagic its training noise) from it.</param>
public sealed record EditCase(string Id, EditCategory Category, Scene Source, IReadOnlyList<SceneEdit> Edits, long Seed)
{
    /// <summary>The requested changes: a copy, checked at construction (distinct attributes, a valid target).</summary>
    public IReadOnlyList<SceneEdit> Edits { get; init; } = new EditPrompt(Source, Edits).Edits;

    // Derived on demand rather than stored, so that a copy made with `with` never carries stale values.

    EditPrompt Prompt => new(Source, Edits);

    /// <summary>The scene the edited image should show.</summary>
    public Scene Target => Prompt.Target;

    /// <summary>The canonical caption of the target scene: the text every method receives.</summary>
    public string TargetText => Prompt.TargetText;

    /// <summary>The canonical caption of the input scene (only the DDIM-inversion baseline may use it).</summary>
    public string SourceText => Prompt.SourceText;

    /// <summary>The attributes that should change; everything else should be preserved.</summary>
    public IReadOnlyList<SceneAttribute> EditedAttributes => Prompt.EditedAttributes;

    /// <summary>The input image at <paramref name="size"/>×<paramref name="size"/> pixels (default 32).</summary>
    public SceneImage Input(int size = 32) => SceneRenderer.Render(Source, size);

    /// <summary>The ground-truth edited image at <paramref name="size"/>×<paramref name="size"/> pixels (default 32).</summary>
    public SceneImage GroundTruth(int size = 32) => SceneRenderer.Render(Target, size);

    /// <summary>One line that fixes the case completely; the suite's fingerprint hashes these.</summary>
    public string Describe() =>
        $"{Id} | {Category} | seed {Seed} | {Format(Source)} | {string.Join(", ", Edits)} | {TargetText}";

    // Spelled out rather than the records' ToString, whose text for list properties depends on the compiler.
    // World v2's unnamed detail is appended in round-trip number format, so the fingerprint covers it.
    static string Format(Scene scene) =>
        $"{scene.Background} background: " + string.Join(" + ", scene.Objects.Select(o => $"{o.Size} {o.Pose} {o.Color} {o.Shape} at {o.Position}{Format(o.Detail)}"))
        + (scene.Detail is { } d
            ? Invariant($" | gradient {d.GradientAngle:R} {d.GradientAmplitude:R}, texture {d.TextureSeed} {d.TextureAmplitude:R}") +
              (d.Clutter is { } c ? Invariant($", clutter {c.Color} {c.Shape} at {c.X:R} {c.Y:R} size {c.HalfExtent:R}") : "")
            : "");

    static string Format(ObjectDetail? d) => d is null ? ""
        : Invariant($" (offset {d.OffsetX:R} {d.OffsetY:R}, scale {d.Scale:R}, rotation {d.Rotation:R}, shade {d.ShadeR:R} {d.ShadeG:R} {d.ShadeB:R})");

    static string Invariant(FormattableString text) => text.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Two cases are equal when they describe the same task (the lists inside compare by content).</summary>
    public bool Equals(EditCase? other) => other is not null && Describe() == other.Describe();

    /// <inheritdoc/>
    public override int GetHashCode() => Describe().GetHashCode(StringComparison.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => Describe();
}

/// <summary>
/// The editing benchmark's cases: a deterministic, versioned list drawn from the shapes world, balanced
/// over <see cref="EditCategory"/>.
/// </summary>
/// <remarks>
/// Cases are generated round-robin over the categories (case i has category i mod 7), each from the next
/// scene of one <see cref="SceneSampler"/> that has a valid edit of that kind. Any prefix of the suite is
/// therefore balanced, and a smaller suite is the start of a larger one: the quick run's cases are the
/// first cases of the full run. The generator only uses <see cref="WorldRandom"/>, so the suite is the
/// same on every machine. If a change to the world alters the cases, <see cref="Fingerprint"/> changes
/// and a test fails: bump <see cref="Version"/> then, since old results no longer compare.
/// </remarks>
public sealed class EditSuite
{
    /// <summary>The version of the shapes suite that <see cref="Shapes"/> generates: <c>shapes-v1</c>.</summary>
    public const string ShapesVersion = "shapes-v1";

    /// <summary>
    /// The version of the suite that <see cref="ShapesV2"/> generates: <c>shapes-v2</c>, world v2 scenes with
    /// TEdBench-style target texts (<see cref="Captioner.EditTarget"/>), rendered at <see cref="V2Resolution"/>.
    /// </summary>
    public const string ShapesV2Version = "shapes-v2";

    /// <summary>The resolution shapes-v2 is made for: 64 px.</summary>
    public const int V2Resolution = 64;

    /// <summary>The seed of shapes-v2: 17 (issue 17 of the project).</summary>
    public const long DefaultSeedV2 = 17;

    /// <summary>Cases per category of the full suite: 22, so 154 cases in all.</summary>
    public const int DefaultCasesPerCategory = 22;

    /// <summary>The seed of the shapes suite: 4 (issue 4 of the project).</summary>
    public const long DefaultSeed = 4;

    EditSuite(string version, long seed, IReadOnlyList<EditCase> cases)
    {
        Version = version;
        Seed = seed;
        Cases = cases;
    }

    /// <summary>The suite's version string, e.g. <c>shapes-v1</c>.</summary>
    public string Version { get; }

    /// <summary>The seed the cases were drawn with.</summary>
    public long Seed { get; }

    /// <summary>The cases, round-robin over the categories.</summary>
    public IReadOnlyList<EditCase> Cases { get; }

    /// <summary>Every category, in the order the suite cycles through them.</summary>
    public static IReadOnlyList<EditCategory> Categories { get; } = Enum.GetValues<EditCategory>();

    /// <summary>
    /// The shapes suite: <paramref name="casesPerCategory"/> cases of each category (default 22, i.e.
    /// 154 cases), drawn with <paramref name="seed"/> (default <see cref="DefaultSeed"/>).
    /// </summary>
    public static EditSuite Shapes(int casesPerCategory = DefaultCasesPerCategory, long seed = DefaultSeed) =>
        Generate(ShapesVersion, WorldVersion.V1, casesPerCategory, seed);

    /// <summary>
    /// The shapes-v2 suite: as <see cref="Shapes"/> (seven categories, round-robin, 22 cases each by default), on
    /// world-v2 scenes drawn with <paramref name="seed"/> (default <see cref="DefaultSeedV2"/>). Every method gets
    /// the TEdBench-style target text, which leaves the scene's other content and all unnamed detail to the input.
    /// </summary>
    public static EditSuite ShapesV2(int casesPerCategory = DefaultCasesPerCategory, long seed = DefaultSeedV2) =>
        Generate(ShapesV2Version, WorldVersion.V2, casesPerCategory, seed);

    static EditSuite Generate(string version, WorldVersion world, int casesPerCategory, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(casesPerCategory);
        var scenes = new SceneSampler(seed, version: world);
        // Separate streams for scenes, single-edit picks and two-attribute picks, so that each is a fixed
        // function of the seed and adding a category later would not reshuffle the others' draws.
        var picks = new WorldRandom(unchecked(seed * 31 + 1));
        var pairs = new EditSampler(unchecked(seed * 31 + 2));
        var caseSeeds = new WorldRandom(unchecked(seed * 31 + 3));
        var cases = new List<EditCase>();
        for (int i = 0; i < casesPerCategory * Categories.Count; i++)
        {
            var category = Categories[i % Categories.Count];
            IReadOnlyList<SceneEdit>? edits = null;
            Scene scene;
            do
            {
                scene = scenes.Next();
                if (category == EditCategory.TwoAttributes)
                    edits = pairs.Next(scene, 2);
                else if (EditSampler.ValidEdits(scene, AttributeOf(category)) is { Count: > 0 } valid)
                    edits = [picks.Pick(valid)];
            }
            while (edits is null);
            long caseSeed = (long)(caseSeeds.NextUInt64() >> 33); // non-negative and well inside any seed range
            cases.Add(new EditCase($"{i:000}-{Slug(category)}", category, scene, edits, caseSeed));
        }
        return new EditSuite(version, seed, cases);
    }

    /// <summary>
    /// The suite named on the command line: <c>shapes</c> or <c>shapes-v1</c> (the same thing), or <c>shapes-v2</c>.
    /// Throws <see cref="ImagicException"/> for any other name.
    /// </summary>
    public static EditSuite Named(string name, int casesPerCategory = DefaultCasesPerCategory) => name switch
    {
        "shapes" or ShapesVersion => Shapes(casesPerCategory),
        ShapesV2Version => ShapesV2(casesPerCategory),
        _ => throw new ImagicException($"Unknown benchmark suite '{name}'; choose 'shapes' ({ShapesVersion}) or '{ShapesV2Version}'."),
    };

    /// <summary>The names <see cref="Named"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["shapes", ShapesVersion, ShapesV2Version];

    /// <summary>The world the suite's scenes belong to.</summary>
    public WorldVersion World => Cases.Count > 0 ? Cases[0].Source.Version : WorldVersion.V1;

    /// <summary>The first <paramref name="count"/> cases (still balanced: the order is round-robin).</summary>
    public EditSuite Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (count > Cases.Count)
            throw new ImagicException($"The {Version} suite has {Cases.Count} cases; cannot take {count}.");
        return new EditSuite(Version, Seed, Cases.Take(count).ToArray());
    }

    /// <summary>
    /// The cases named by <paramref name="ids"/> (e.g. <c>021-color</c>), in the suite's order: to re-run the cases a
    /// full run got wrong, or to try a setting on one category. An id the suite does not hold is an error naming it.
    /// </summary>
    public EditSuite Only(IEnumerable<string> ids)
    {
        var wanted = ids.ToHashSet(StringComparer.Ordinal);
        if (wanted.Count == 0) throw new ImagicException("Name at least one case id, e.g. 021-color.");
        var known = Cases.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        if (wanted.FirstOrDefault(id => !known.Contains(id)) is { } unknown)
            throw new ImagicException($"The {Version} suite (as chosen) has no case '{unknown}'; ids look like {Cases[0].Id}.");
        return new EditSuite(Version, Seed, Cases.Where(c => wanted.Contains(c.Id)).ToArray());
    }

    /// <summary>
    /// Every <paramref name="count"/>-th case starting at the <paramref name="index"/>-th (1-based): shard
    /// <paramref name="index"/> of <paramref name="count"/>. The shards of one suite are disjoint and together hold
    /// every case. A shard alone need not be balanced over the categories (with 7 shards each holds one category, since cases
    /// cycle through the 7); the gathered run is.
    /// </summary>
    public EditSuite Shard(int index, int count)
    {
        if (count < 1 || index < 1 || index > count)
            throw new ImagicException($"A shard is K/N with 1 ≤ K ≤ N; got {index}/{count}.");
        if (count > Cases.Count)
            throw new ImagicException($"The {Version} suite has {Cases.Count} cases; cannot split it into {count} shards.");
        return new EditSuite(Version, Seed, Cases.Where((_, i) => i % count == index - 1).ToArray());
    }

    /// <summary>
    /// SHA-256 (hex, first 16 characters) over the version and every case's <see cref="EditCase.Describe"/>:
    /// two suites with the same fingerprint hold exactly the same cases.
    /// </summary>
    public string Fingerprint
    {
        get
        {
            var text = new StringBuilder(Version).Append('\n');
            foreach (var c in Cases)
                text.Append(c.Describe()).Append('\n');
            return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16].ToLowerInvariant();
        }
    }

    /// <summary>The edited attribute of a single-attribute category.</summary>
    public static SceneAttribute AttributeOf(EditCategory category) => category switch
    {
        EditCategory.Color => SceneAttribute.Color,
        EditCategory.Shape => SceneAttribute.Shape,
        EditCategory.Size => SceneAttribute.Size,
        EditCategory.Position => SceneAttribute.Position,
        EditCategory.Background => SceneAttribute.Background,
        EditCategory.Pose => SceneAttribute.Pose,
        _ => throw new ArgumentOutOfRangeException(nameof(category), category, "not a single-attribute category"),
    };

    /// <summary>The lower-case name used in case ids and reports: <c>color</c>, …, <c>two-attributes</c>.</summary>
    public static string Slug(EditCategory category) =>
        category == EditCategory.TwoAttributes ? "two-attributes" : category.ToString().ToLowerInvariant();
}
