/** What a demonstration section is: its id, title, and a run that returns text and JSON. */
export interface DemoSection {
  readonly id: string;
  readonly title: string;
  /** `report`: where a section that writes a report file puts it. */
  run(ctx?: { readonly report?: string }): { text: string; json: unknown };
}
