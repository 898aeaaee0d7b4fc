/** A catalog operation refused: the message names the file or field and the fix; nothing was changed. */
export class CatalogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CatalogError";
  }
}
