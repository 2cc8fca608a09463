namespace Imagic.World;

/// <summary>
/// One editing task of the benchmark: the input scene, the edits, the scene the output should show,
/// and the target text that Imagic receives.
/// </summary>
/// <remarks>
/// Imagic's target text describes the desired output image, not the change ("a sitting dog", not
/// "make the dog sit"; Kawar et al., CVPR 2023, §3), so it is the canonical caption of the target scene.
/// </remarks>
public sealed class EditPrompt
{
    /// <summary>Applies <paramref name="edits"/> to <paramref name="source"/>; throws <see cref="ArgumentException"/> if the result is invalid.</summary>
    public EditPrompt(Scene source, IReadOnlyList<SceneEdit> edits)
    {
        if (edits.Count == 0)
            throw new ArgumentException("An edit prompt needs at least one edit.", nameof(edits));
        if (edits.Select(e => e.Attribute).Distinct().Count() != edits.Count)
            throw new ArgumentException($"Edits must change distinct attributes: {string.Join(", ", edits)}.", nameof(edits));
        Source = source;
        Edits = edits.ToArray();
        Target = source.Apply(edits);
    }

    /// <summary>The input image's scene.</summary>
    public Scene Source { get; }

    /// <summary>The requested changes, one per attribute.</summary>
    public IReadOnlyList<SceneEdit> Edits { get; }

    /// <summary>The scene the edited image should show.</summary>
    public Scene Target { get; }

    /// <summary>The attributes that should change; every other attribute, and the second object, should be preserved.</summary>
    public IReadOnlyList<SceneAttribute> EditedAttributes => Edits.Select(e => e.Attribute).ToArray();

    /// <summary>
    /// The text of the source scene: its canonical caption in world v1; in world v2 the TEdBench-style text that
    /// names the same attributes as <see cref="TargetText"/> (<see cref="Captioner.EditTarget"/>).
    /// </summary>
    public string SourceText => Source.Version == WorldVersion.V1 ? Captioner.Canonical(Source) : Captioner.EditTarget(Source, EditedAttributes);

    /// <summary>
    /// Imagic's target text: the canonical caption of the target scene in world v1; in world v2 a TEdBench-style
    /// text that names the primary object's colour and shape and the edited attributes only (<see cref="Captioner.EditTarget"/>).
    /// </summary>
    public string TargetText => Target.Version == WorldVersion.V1 ? Captioner.Canonical(Target) : Captioner.EditTarget(Target, EditedAttributes);

    /// <inheritdoc/>
    public override string ToString() => $"{TargetText} ({string.Join(", ", Edits)})";
}
