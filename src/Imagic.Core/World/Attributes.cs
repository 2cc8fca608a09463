namespace Imagic.World;

/// <summary>The shape of an object. Every shape fills the same bounding box for a given size and pose.</summary>
public enum Shape { Circle, Square, Triangle, Star, Ring }

/// <summary>An object's colour; RGB values are in <see cref="Palette"/>.</summary>
public enum NamedColor { Red, Green, Blue, Yellow, Purple, Orange, White, Black }

/// <summary>The flat background colour of a scene; RGB values are in <see cref="Palette"/>.</summary>
public enum Background { Grey, White, Black, Beige }

/// <summary>An object's size class: the half-extent of its long axis (<see cref="WorldGeometry.HalfExtent"/>).</summary>
public enum Size { Small, Medium, Large }

/// <summary>A cell of the 3×3 grid; the object is centred on the cell centre (1/6, 3/6 or 5/6 of the image).</summary>
public enum GridPosition { TopLeft, Top, TopRight, Left, Center, Right, BottomLeft, Bottom, BottomRight }

/// <summary>
/// The world's non-rigid attribute: an anisotropic stretch of the shape.
/// </summary>
/// <remarks>
/// Imagic's signature edits change an object's pose or proportions while keeping its identity
/// (Kawar et al., CVPR 2023, Fig. 1: "a sitting dog", "a bird spreading wings"). A rigid world of
/// 32×32 shapes has no articulation, so the non-rigid attribute here is the aspect ratio: a
/// <see cref="Tall"/> object keeps its height and is squeezed to <see cref="WorldGeometry.PoseRatio"/>
/// of its width, a <see cref="Wide"/> object the other way round. It is visible at 32×32 for every
/// shape, text can name it ("tall", "wide", "stretched vertically"), and it is independent of
/// <see cref="Size"/>, which is the long axis.
/// </remarks>
public enum Pose { Regular, Tall, Wide }

/// <summary>
/// An attribute an edit can change: one of the primary object's, or the scene's background.
/// </summary>
/// <remarks>Not called <c>Attribute</c> so that it never clashes with <see cref="System.Attribute"/>.</remarks>
public enum SceneAttribute { Color, Shape, Size, Position, Background, Pose }
