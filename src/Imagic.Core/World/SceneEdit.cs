namespace Imagic.World;

/// <summary>
/// A change of one attribute: of the primary object, or of the background. One record per
/// attribute keeps the new value typed.
/// </summary>
public abstract record SceneEdit
{
    /// <summary>The attribute this edit changes.</summary>
    public abstract SceneAttribute Attribute { get; }

    /// <summary>The new value, for logs and reports.</summary>
    public abstract object NewValue { get; }

    /// <summary>The scene with this one attribute replaced; no validity check (see <see cref="Scene.Apply(SceneEdit)"/>).</summary>
    internal abstract Scene ApplyTo(Scene scene);

    /// <summary>Whether this edit would leave <paramref name="scene"/> unchanged.</summary>
    public bool IsNoOp(Scene scene) => ApplyTo(scene) == scene;

    /// <summary>"Attribute → value"; sealed so every edit record prints the same way.</summary>
    public sealed override string ToString() => $"{Attribute} → {NewValue}";
}

/// <summary>Recolour the primary object.</summary>
public sealed record ColorEdit(NamedColor Color) : SceneEdit
{
    public override SceneAttribute Attribute => SceneAttribute.Color;
    public override object NewValue => Color;
    internal override Scene ApplyTo(Scene scene) => scene with { Primary = scene.Primary with { Color = Color } };
}

/// <summary>Turn the primary object into another shape.</summary>
public sealed record ShapeEdit(Shape Shape) : SceneEdit
{
    public override SceneAttribute Attribute => SceneAttribute.Shape;
    public override object NewValue => Shape;
    internal override Scene ApplyTo(Scene scene) => scene with { Primary = scene.Primary with { Shape = Shape } };
}

/// <summary>Resize the primary object.</summary>
public sealed record SizeEdit(Size Size) : SceneEdit
{
    public override SceneAttribute Attribute => SceneAttribute.Size;
    public override object NewValue => Size;
    internal override Scene ApplyTo(Scene scene) => scene with { Primary = scene.Primary with { Size = Size } };
}

/// <summary>Move the primary object to another grid cell.</summary>
public sealed record PositionEdit(GridPosition Position) : SceneEdit
{
    public override SceneAttribute Attribute => SceneAttribute.Position;
    public override object NewValue => Position;
    internal override Scene ApplyTo(Scene scene) => scene with { Primary = scene.Primary with { Position = Position } };
}

/// <summary>Stretch the primary object differently (the non-rigid edit).</summary>
public sealed record PoseEdit(Pose Pose) : SceneEdit
{
    public override SceneAttribute Attribute => SceneAttribute.Pose;
    public override object NewValue => Pose;
    internal override Scene ApplyTo(Scene scene) => scene with { Primary = scene.Primary with { Pose = Pose } };
}

/// <summary>Change the background colour; the objects stay as they are.</summary>
public sealed record BackgroundEdit(Background Background) : SceneEdit
{
    public override SceneAttribute Attribute => SceneAttribute.Background;
    public override object NewValue => Background;
    internal override Scene ApplyTo(Scene scene) => scene with { Background = Background };
}
