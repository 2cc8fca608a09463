namespace Imagic.World;

/// <summary>One shape on a cell of the 3×3 grid: flat and centred in world v1; with unnamed <paramref name="Detail"/> in world v2.</summary>
/// <param name="Detail">World v2's unnamed detail (offset, size jitter, rotation, shade); null in world v1.</param>
public sealed record SceneObject(Shape Shape, NamedColor Color, Size Size, GridPosition Position, Pose Pose,
    ObjectDetail? Detail = null);

/// <summary>
/// A scene of the shapes world: a background, a primary object, and optionally a second object
/// that never overlaps it. Edits change the primary object or the background.
/// </summary>
/// <param name="Detail">World v2's unnamed background texture and clutter; null in world v1 (a flat background).</param>
public sealed record Scene(Background Background, SceneObject Primary, SceneObject? Secondary = null, SceneDetail? Detail = null)
{
    /// <summary>The world version the scene belongs to: <see cref="WorldVersion.V2"/> when it carries unnamed detail.</summary>
    public WorldVersion Version => Detail is null ? WorldVersion.V1 : WorldVersion.V2;

    /// <summary>The objects in drawing order: the primary, then the secondary if there is one.</summary>
    public IReadOnlyList<SceneObject> Objects => Secondary is null ? [Primary] : [Primary, Secondary];

    /// <summary>
    /// Why this scene breaks the world's rules: an object leaves the canvas, an object colour does
    /// not contrast with the background, or the two objects are closer than
    /// <see cref="WorldGeometry.MinGap"/>. Empty for a valid scene.
    /// </summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        foreach (var obj in Objects)
        {
            if (!WorldGeometry.InsideCanvas(obj))
                problems.Add($"{obj} leaves the canvas");
            if (!Palette.Contrasts(obj.Color, Background))
                problems.Add($"{obj.Color} does not contrast with the {Background} background");
        }
        if (Secondary is not null && !WorldGeometry.Separated(Primary, Secondary))
            problems.Add($"the objects at {Primary.Position} and {Secondary.Position} are closer than {WorldGeometry.MinGap}");
        if (Detail?.Clutter is { } clutter)
            foreach (var obj in Objects)
                if (!WorldGeometry.Separated(obj, clutter))
                    problems.Add($"the clutter at ({clutter.X:0.00}, {clutter.Y:0.00}) is closer than {WorldGeometry.MinGap} to the object at {obj.Position}");
        if ((Detail is null) != Objects.All(o => o.Detail is null))
            problems.Add("a scene's objects carry unnamed detail exactly when the scene does (world v2)");
        return problems;
    }

    /// <summary>Whether the scene follows every rule (see <see cref="Problems"/>).</summary>
    public bool IsValid => Problems().Count == 0;

    /// <summary>
    /// The scene with one edit applied: only the edited attribute of the primary object (or the
    /// background) changes. Throws <see cref="ArgumentException"/> if the result is not a valid scene.
    /// </summary>
    public Scene Apply(SceneEdit edit) => Apply([edit]);

    /// <summary>
    /// The scene with several edits applied in order. Only the final scene must be valid, so
    /// "white object" together with "black background" works on a white background.
    /// </summary>
    public Scene Apply(IEnumerable<SceneEdit> edits)
    {
        var scene = this;
        foreach (var edit in edits)
            scene = edit.ApplyTo(scene);
        var problems = scene.Problems();
        if (problems.Count > 0)
            throw new ArgumentException($"Editing {this} gives an invalid scene: {string.Join("; ", problems)}.", nameof(edits));
        return scene;
    }
}
