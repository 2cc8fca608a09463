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

    /// <summary>The canonical caption of the source scene.</summary>
    public string SourceText => Captioner.Canonical(Source);

    /// <summary>The canonical caption of the target scene: Imagic's target text.</summary>
    public string TargetText => Captioner.Canonical(Target);

    /// <inheritdoc/>
    public override string ToString() => $"{TargetText} ({string.Join(", ", Edits)})";
}
