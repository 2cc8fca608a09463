namespace Imagic.World;

/// <summary>
/// Draws random valid edits of a scene: each edit sets a new value (never the current one) and the
/// edited scene still follows the world's rules, so the benchmark's ground truth always exists.
/// </summary>
public sealed class EditSampler
{
    readonly WorldRandom _rng;

    /// <param name="seed">Fixes the whole sequence of edits (given the same scenes).</param>
    public EditSampler(long seed) => _rng = new WorldRandom(seed);

    /// <summary>
    /// Every single edit of <paramref name="attribute"/> that changes the scene and keeps it valid,
    /// in enum order of the new value.
    /// </summary>
    public static IReadOnlyList<SceneEdit> ValidEdits(Scene scene, SceneAttribute attribute) =>
        Candidates(scene, attribute).Where(e => IsValidChange(scene, [e])).ToArray();

    /// <summary>
    /// A random single edit: the attribute is uniform over those that have a valid new value,
    /// then the value is uniform over the valid ones.
    /// </summary>
    public SceneEdit Next(Scene scene) => Next(scene, 1)[0];

    /// <summary>
    /// A random edit of <paramref name="attributeCount"/> distinct attributes at once: the set of
    /// attributes is uniform over the sets with a valid combination, then the combination is uniform
    /// over the valid ones. Only the final scene has to be valid.
    /// </summary>
    public IReadOnlyList<SceneEdit> Next(Scene scene, int attributeCount)
    {
        var attributes = Enum.GetValues<SceneAttribute>();
        if (attributeCount < 1 || attributeCount > attributes.Length)
            throw new ArgumentOutOfRangeException(nameof(attributeCount), attributeCount, $"must be between 1 and {attributes.Length}");

        var options = Subsets(attributes, attributeCount)
            .Select(subset => Combinations(scene, subset).Where(edits => IsValidChange(scene, edits)).ToArray())
            .Where(valid => valid.Length > 0)
            .ToArray();
        if (options.Length == 0)
            throw new ArgumentException($"{scene} has no valid edit of {attributeCount} attributes.", nameof(scene));
        return _rng.Pick(_rng.Pick(options));
    }

    static bool IsValidChange(Scene scene, IReadOnlyList<SceneEdit> edits)
    {
        var edited = scene;
        foreach (var edit in edits)
            edited = edit.ApplyTo(edited);
        return edited.IsValid;
    }

    static IEnumerable<SceneEdit> Candidates(Scene scene, SceneAttribute attribute)
    {
        IEnumerable<SceneEdit> all = attribute switch
        {
            SceneAttribute.Color => Enum.GetValues<NamedColor>().Select(v => (SceneEdit)new ColorEdit(v)),
            SceneAttribute.Shape => Enum.GetValues<Shape>().Select(v => (SceneEdit)new ShapeEdit(v)),
            SceneAttribute.Size => Enum.GetValues<Size>().Select(v => (SceneEdit)new SizeEdit(v)),
            SceneAttribute.Position => Enum.GetValues<GridPosition>().Select(v => (SceneEdit)new PositionEdit(v)),
            SceneAttribute.Pose => Enum.GetValues<Pose>().Select(v => (SceneEdit)new PoseEdit(v)),
            SceneAttribute.Background => Enum.GetValues<Background>().Select(v => (SceneEdit)new BackgroundEdit(v)),
            _ => throw new ArgumentOutOfRangeException(nameof(attribute), attribute, null),
        };
        return all.Where(e => !e.IsNoOp(scene));
    }

    static IEnumerable<IReadOnlyList<SceneEdit>> Combinations(Scene scene, IReadOnlyList<SceneAttribute> attributes)
    {
        IEnumerable<IReadOnlyList<SceneEdit>> result = [[]];
        foreach (var attribute in attributes)
        {
            var candidates = Candidates(scene, attribute).ToArray();
            result = result.SelectMany(prefix => candidates.Select(c => (IReadOnlyList<SceneEdit>)[.. prefix, c]));
        }
        return result;
    }

    static IEnumerable<IReadOnlyList<SceneAttribute>> Subsets(IReadOnlyList<SceneAttribute> items, int count, int start = 0)
    {
        if (count == 0)
        {
            yield return [];
            yield break;
        }
        for (int i = start; i <= items.Count - count; i++)
            foreach (var rest in Subsets(items, count - 1, i + 1))
                yield return [items[i], .. rest];
    }
}
